using System.Net;
using CsCheck;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.Tests.Stun;

public sealed class StunPropertyTests
{
    // Types that carry no integrity/fingerprint meaning, both comprehension ranges.
    private static readonly Gen<ushort> AttributeType = Gen.OneOf(Gen.UShort[0x0030, 0x7FFF], Gen.UShort[0x8030, 0xFFFF]);

    private static readonly Gen<(ushort Type, byte[] Value)> Attribute = Gen.Select(AttributeType, Gen.Byte.Array[0, 40]);

    private static readonly Gen<IPEndPoint> EndPoint = Gen.Select(
        Gen.Bool,
        Gen.Byte.Array[16],
        Gen.Int[0, 65535],
        (v6, bytes, port) => new IPEndPoint(new IPAddress(v6 ? bytes : bytes[..4]), port));

    [Fact]
    public void Written_attributes_read_back_in_order_with_valid_integrity_and_fingerprint()
    {
        Gen.Select(Attribute.List[0, 10], Gen.Byte.Array[1, 32], Gen.Byte[0, 255], Gen.Int[0, 3]).Sample((attributes, key, padding, method) =>
        {
            byte[] buffer = new byte[2048];
            var id = StunTransactionId.NewRandom();
            var writer = new StunMessageWriter(buffer, (StunMethod)(method + 1), StunMessageClass.Indication, id) { PaddingByte = padding };
            foreach ((ushort type, byte[] value) in attributes)
            {
                writer.Append(type, value);
            }

            writer.AppendMessageIntegrity(key);
            writer.AppendFingerprint();

            Assert.Equal(StunParseError.None, StunMessage.TryParse(buffer.AsSpan(0, writer.Length), out StunMessage message));
            Assert.Equal(id, message.TransactionId);
            Assert.Equal(StunMessageClass.Indication, message.Class);
            Assert.Equal((StunMethod)(method + 1), message.Method);
            int i = 0;
            foreach (StunAttribute attribute in message)
            {
                Assert.Equal(attributes[i].Type, attribute.Type);
                Assert.Equal(attributes[i].Value, attribute.Value.ToArray());
                i++;
            }

            Assert.Equal(attributes.Count, i);
            Assert.True(message.VerifyMessageIntegrity(key));
            Assert.True(message.VerifyFingerprint());
        }, iter: 2000);
    }

    [Fact]
    public void Xor_and_plain_addresses_round_trip_for_IPv4_and_IPv6()
    {
        EndPoint.Sample(endPoint =>
        {
            byte[] buffer = new byte[128];
            var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.SuccessResponse, StunTransactionId.NewRandom());
            writer.AppendXorAddress(StunAttributeType.XorMappedAddress, endPoint);
            writer.AppendMappedAddress(endPoint);
            Assert.Equal(StunParseError.None, StunMessage.TryParse(buffer.AsSpan(0, writer.Length), out StunMessage message));
            Assert.True(message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? xor));
            Assert.True(message.TryGetMappedAddress(out IPEndPoint? plain));
            Assert.Equal(endPoint, xor);
            Assert.Equal(endPoint, plain);
        }, iter: 2000);
    }

    [Fact]
    public void Channel_data_round_trips_and_rejects_bad_lengths()
    {
        Gen.Select(Gen.UShort[ChannelData.MinChannel, ChannelData.MaxChannel], Gen.Byte.Array[0, 300], Gen.Int[0, 3]).Sample((channel, payload, padding) =>
        {
            byte[] datagram = new byte[4 + payload.Length + padding];
            payload.CopyTo(datagram, 4);
            ChannelData.WriteHeader(datagram, channel, payload.Length);
            Assert.True(ChannelData.TryParse(datagram, out ushort parsedChannel, out ReadOnlySpan<byte> parsed));
            Assert.Equal(channel, parsedChannel);
            Assert.Equal(payload, parsed.ToArray());
            Assert.False(ChannelData.TryParse(datagram.AsSpan(0, 3 + payload.Length), out _, out _) && payload.Length > 0);
        }, iter: 1000);

        byte[] tooMuchPadding = new byte[4 + 2 + 4];
        ChannelData.WriteHeader(tooMuchPadding, 0x4001, 2);
        Assert.False(ChannelData.TryParse(tooMuchPadding, out _, out _));
        byte[] reservedChannel = new byte[8];
        ChannelData.WriteHeader(reservedChannel, 0x5000, 4);
        Assert.False(ChannelData.TryParse(reservedChannel, out _, out _));
    }

    [Fact]
    public void Random_and_mutated_bytes_never_make_the_parser_or_accessors_throw()
    {
        byte[][] seeds = [Rfc5769Vectors.Request, Rfc5769Vectors.IPv4Response, Rfc5769Vectors.IPv6Response, Rfc5769Vectors.LongTermRequest];
        var mutated = Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.Int[0, 120].Array[1, 8], Gen.Byte.Array[8], Gen.Int[0, 130])
            .Select((seed, positions, values, cut) =>
            {
                byte[] copy = (byte[])seeds[seed].Clone();
                for (int i = 0; i < positions.Length; i++)
                {
                    copy[positions[i] % copy.Length] = values[i];
                }

                return copy.AsSpan(0, Math.Min(cut, copy.Length)).ToArray();
            });
        var random = Gen.Byte.Array[0, 200].Select(bytes =>
        {
            // Give a share of them a valid-looking header so the attribute walker is exercised.
            if (bytes.Length >= 20 && bytes[0] % 2 == 0)
            {
                bytes[0] &= 0x03;
                bytes[2] = (byte)((bytes.Length - 20) >> 8);
                bytes[3] = (byte)(bytes.Length - 20);
                bytes[4] = 0x21;
                bytes[5] = 0x12;
                bytes[6] = 0xA4;
                bytes[7] = 0x42;
            }

            return bytes;
        });

        Gen.OneOf(mutated, random).Sample(bytes => Exercise(bytes), iter: 20_000);
    }

    internal static void Exercise(byte[] bytes)
    {
        if (StunMessage.TryParse(bytes, out StunMessage message) == StunParseError.None)
        {
            _ = message.Method;
            _ = message.Class;
            _ = message.TransactionId;
            foreach (StunAttribute attribute in message)
            {
                _ = attribute.Value.Length;
            }

            _ = message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out _);
            _ = message.TryGetXorAddress(StunAttributeType.XorPeerAddress, out _);
            _ = message.TryGetMappedAddress(out _);
            _ = message.TryGetErrorCode(out _, out _);
            _ = message.TryGetString(StunAttributeType.Software, out _);
            _ = message.TryGetUInt32(StunAttributeType.Priority, out _);
            _ = message.TryGetUInt64(StunAttributeType.IceControlling, out _);
            _ = message.GetUnknownComprehensionRequired(stackalloc ushort[2]);
            _ = message.VerifyFingerprint();
            _ = message.VerifyMessageIntegrity([1, 2, 3]);
            _ = message.VerifyMessageIntegritySha256([1, 2, 3]);
        }

        _ = ChannelData.TryParse(bytes, out _, out _);
        _ = StunBindingResponder.WriteResponse(bytes, new IPEndPoint(IPAddress.Loopback, 1), new byte[1500]);
    }
}
