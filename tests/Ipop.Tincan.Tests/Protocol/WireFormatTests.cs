using System.Text;
using CsCheck;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;
using Ipop.Lab;
using NSec.Cryptography;

namespace Ipop.Tincan.Tests.Protocol;

public sealed class WireFormatTests
{
    private const string InitStatic = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
    private const string InitEphemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
    private const string RespStatic = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
    private const string RespEphemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";

    [Fact]
    public void Handshake_and_transport_messages_have_stable_bytes()
    {
        using StaticKeyPair a = StaticKeyPair.FromPrivateKey(Hex.Bytes(InitStatic));
        using StaticKeyPair b = StaticKeyPair.FromPrivateKey(Hex.Bytes(RespStatic));
        using var initiator = new NoiseIKHandshake(true, a, b.PublicKeyBytes, "Ipop v1"u8, Hex.Bytes(InitEphemeral));
        using var responder = new NoiseIKHandshake(false, b, default, "Ipop v1"u8, Hex.Bytes(RespEphemeral));

        byte[] initiation = new byte[HandshakeInitiationMessage.Length];
        HandshakeInitiationMessage.WriteHeader(initiation, 0x11223344);
        byte[] timestamp = new byte[Tai64N.Length];
        Tai64N.Write(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), timestamp);
        Assert.Equal(HandshakeInitiationMessage.NoiseLength, initiator.WriteMessage1(timestamp, HandshakeInitiationMessage.NoiseMessage(initiation)));
        HandshakeMac.Write(initiation, HandshakeMac.DeriveKey(b.PublicKeyBytes));
        Assert.True(HandshakeMac.Verify(initiation, HandshakeMac.DeriveKey(b.PublicKeyBytes)));
        Assert.False(HandshakeMac.Verify(initiation, HandshakeMac.DeriveKey(a.PublicKeyBytes)));

        Assert.True(HandshakeInitiationMessage.TryRead(initiation, out uint sender, out ReadOnlySpan<byte> noise1));
        Assert.Equal(0x11223344u, sender);
        byte[] readTimestamp = new byte[Tai64N.Length];
        Assert.True(responder.TryReadMessage1(noise1, readTimestamp, out _));
        Assert.Equal(timestamp, readTimestamp);

        byte[] response = new byte[HandshakeResponseMessage.Length];
        HandshakeResponseMessage.WriteHeader(response, 0xaabbccdd, 0x11223344);
        responder.WriteMessage2(default, HandshakeResponseMessage.NoiseMessage(response));
        HandshakeMac.Write(response, HandshakeMac.DeriveKey(a.PublicKeyBytes));
        Assert.True(HandshakeResponseMessage.TryRead(response, out uint rs, out uint rr, out ReadOnlySpan<byte> noise2));
        Assert.Equal((0xaabbccddu, 0x11223344u), (rs, rr));
        Assert.True(initiator.TryReadMessage2(noise2, Span<byte>.Empty, out _));

        byte[] keys = new byte[64];
        initiator.Split(keys);
        using Key sendKey = TransportCipher.ImportKey(keys.AsSpan(0, 32));
        byte[] transport = new byte[TransportHeader.Length + 4 + TransportCipher.TagLength];
        TransportHeader.Write(transport, ContentKind.Packet, 0xaabbccdd, 0x0102030405060708);
        TransportCipher.Seal(sendKey, 0x0102030405060708, transport.AsSpan(0, 16), "ping"u8, transport.AsSpan(16));

        byte[] keepalive = new byte[TransportHeader.MinimumDatagramLength];
        TransportHeader.Write(keepalive, ContentKind.Keepalive, 0xaabbccdd, 1);
        TransportCipher.Seal(sendKey, 1, keepalive.AsSpan(0, 16), ReadOnlySpan<byte>.Empty, keepalive.AsSpan(16));

        var text = new StringBuilder();
        text.Append("handshake initiation (").Append(initiation.Length).Append(" bytes)\n").Append(Hex.Dump(initiation));
        text.Append("handshake response (").Append(response.Length).Append(" bytes)\n").Append(Hex.Dump(response));
        text.Append("transport packet \"ping\" counter 0x0102030405060708 (").Append(transport.Length).Append(" bytes)\n").Append(Hex.Dump(transport));
        text.Append("keepalive counter 1 (").Append(keepalive.Length).Append(" bytes)\n").Append(Hex.Dump(keepalive));
        Snapshot.Verify(text.ToString());
    }

    [Fact]
    public void Transport_header_round_trips()
    {
        Gen.Select(Gen.Byte[0, 7], Gen.UInt, Gen.ULong).Sample((kind, index, counter) =>
        {
            byte[] datagram = new byte[TransportHeader.MinimumDatagramLength];
            TransportHeader.Write(datagram, (ContentKind)kind, index, counter);
            Assert.True(TransportHeader.TryRead(datagram, out ContentKind k, out uint i, out ulong c));
            Assert.Equal(((ContentKind)kind, index, counter), (k, i, c));
        });
    }

    [Fact]
    public void Handshake_headers_round_trip()
    {
        Gen.Select(Gen.UInt, Gen.UInt).Sample((s, r) =>
        {
            byte[] init = new byte[HandshakeInitiationMessage.Length];
            HandshakeInitiationMessage.WriteHeader(init, s);
            Assert.True(HandshakeInitiationMessage.TryRead(init, out uint s1, out _));
            Assert.Equal(s, s1);
            byte[] resp = new byte[HandshakeResponseMessage.Length];
            HandshakeResponseMessage.WriteHeader(resp, s, r);
            Assert.True(HandshakeResponseMessage.TryRead(resp, out uint s2, out uint r2, out _));
            Assert.Equal((s, r), (s2, r2));
        });
    }

    [Fact]
    public void Malformed_datagrams_are_refused_without_throwing()
    {
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            // Any input: the readers answer true or false and never throw.
            _ = TransportHeader.TryRead(bytes, out _, out _, out _);
            _ = HandshakeInitiationMessage.TryRead(bytes, out _, out _);
            _ = HandshakeResponseMessage.TryRead(bytes, out _, out _, out _);
        });

        byte[] ok = new byte[TransportHeader.MinimumDatagramLength];
        TransportHeader.Write(ok, ContentKind.Packet, 1, 1);
        Assert.True(TransportHeader.TryRead(ok, out _, out _, out _));
        Assert.False(TransportHeader.TryRead(ok.AsSpan(0, TransportHeader.MinimumDatagramLength - 1), out _, out _, out _));
        byte[] reserved = (byte[])ok.Clone();
        reserved[2] = 1;
        Assert.False(TransportHeader.TryRead(reserved, out _, out _, out _));
        byte[] kind = (byte[])ok.Clone();
        kind[1] = 8; // the first kind after ForwardedFrame
        Assert.False(TransportHeader.TryRead(kind, out _, out _, out _));
        byte[] type = (byte[])ok.Clone();
        type[0] = 4;
        Assert.False(TransportHeader.TryRead(type, out _, out _, out _));

        byte[] init = new byte[HandshakeInitiationMessage.Length];
        HandshakeInitiationMessage.WriteHeader(init, 7);
        Assert.False(HandshakeInitiationMessage.TryRead(init.AsSpan(0, init.Length - 1), out _, out _));
        Assert.False(HandshakeInitiationMessage.TryRead([.. init, 0], out _, out _));
        Assert.Equal(148, HandshakeInitiationMessage.Length);
        Assert.Equal(92, HandshakeResponseMessage.Length);
    }

    [Fact]
    public void Message_types_stay_outside_the_stun_and_channeldata_ranges()
    {
        foreach (MessageType t in Enum.GetValues<MessageType>())
        {
            byte b = (byte)t;
            Assert.False(b <= 3, $"{t} collides with STUN (RFC 7983)");
            Assert.False(b is >= 64 and <= 79, $"{t} collides with TURN ChannelData (RFC 7983)");
        }
    }
}
