using System.Collections.Immutable;
using System.Net;
using System.Text;
using Ipop.Controllers.Negotiation;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Fuzz;

/// <summary>
/// Writes the binary seeds of fuzz/corpus with our own writers (<c>Ipop.Fuzz --write-seeds DIR</c>), so the
/// corpus starts from messages the code really sends. Text seeds (JSON, XML, key files) are kept by hand.
/// </summary>
internal static class SeedWriter
{
    private static readonly byte[] Key = "fuzz-password"u8.ToArray();

    public static void Write(string root)
    {
        var tx = StunTransactionId.Read("0123456789ab"u8);
        Span<byte> buffer = stackalloc byte[1024];

        var binding = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, tx);
        binding.AppendString(StunAttributeType.Username, "remote:local");
        binding.AppendUInt32(StunAttributeType.Priority, 0x6E0001FF);
        binding.AppendUInt64(StunAttributeType.IceControlling, 0x1122334455667788);
        binding.AppendFlag(StunAttributeType.UseCandidate);
        binding.AppendMessageIntegrity(Key);
        binding.AppendFingerprint();
        Save(root, "stun", "binding-request-ice", binding.Written);

        var success = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.SuccessResponse, tx);
        success.AppendXorAddress(StunAttributeType.XorMappedAddress, new IPEndPoint(IPAddress.Parse("198.18.0.1"), 3478));
        success.AppendMappedAddress(new IPEndPoint(IPAddress.Parse("2001:2::1"), 3478));
        success.AppendFingerprint();
        Save(root, "stun", "binding-success", success.Written);

        var error = new StunMessageWriter(buffer, StunMethod.Allocate, StunMessageClass.ErrorResponse, tx);
        error.AppendErrorCode(401, "Unauthorized");
        error.AppendString(StunAttributeType.Realm, "ipop.test");
        error.AppendString(StunAttributeType.Nonce, "abcdef0123456789");
        error.AppendUnknownAttributes([0x0024, 0x7FFF]);
        Save(root, "stun", "allocate-401", error.Written);

        var allocated = new StunMessageWriter(buffer, StunMethod.Allocate, StunMessageClass.SuccessResponse, tx);
        allocated.AppendXorAddress(StunAttributeType.XorRelayedAddress, new IPEndPoint(IPAddress.Parse("198.18.0.2"), 49152));
        allocated.AppendXorAddress(StunAttributeType.XorMappedAddress, new IPEndPoint(IPAddress.Parse("198.18.0.3"), 50000));
        allocated.AppendUInt32(StunAttributeType.Lifetime, 600);
        allocated.AppendMessageIntegritySha256(Key);
        allocated.AppendFingerprint();
        Save(root, "stun", "allocate-success", allocated.Written);

        var data = new StunMessageWriter(buffer, StunMethod.Data, StunMessageClass.Indication, tx);
        data.AppendXorAddress(StunAttributeType.XorPeerAddress, new IPEndPoint(IPAddress.Parse("198.18.0.4"), 40000));
        data.Append(StunAttributeType.Data, [7, 0, 0, 0, 1, 2, 3]);
        Save(root, "stun", "data-indication", data.Written);

        var channelBind = new StunMessageWriter(buffer, StunMethod.ChannelBind, StunMessageClass.Request, tx);
        channelBind.AppendChannelNumber(0x4001);
        channelBind.AppendXorAddress(StunAttributeType.XorPeerAddress, new IPEndPoint(IPAddress.Parse("198.18.0.4"), 40000));
        channelBind.AppendRequestedTransport(17);
        Save(root, "stun", "channel-bind", channelBind.Written);

        byte[] channel = new byte[4 + 5];
        ChannelData.WriteHeader(channel, 0x4001, 5);
        Save(root, "channel-data", "valid", channel);
        byte[] padded = new byte[4 + 5 + 3];
        ChannelData.WriteHeader(padded, 0x4FFF, 5);
        Save(root, "channel-data", "padded", padded);

        byte[] transport = new byte[TransportHeader.MinimumDatagramLength + 20];
        TransportHeader.Write(transport, ContentKind.Packet, 7, 1);
        Save(root, "tincan-messages", "transport", transport);
        Save(root, "tincan-receive", "transport", transport);
        byte[] keepalive = new byte[TransportHeader.MinimumDatagramLength];
        TransportHeader.Write(keepalive, ContentKind.Keepalive, 7, 2);
        Save(root, "tincan-receive", "keepalive", keepalive);

        using StaticKeyPair initiator = StaticKeyPair.FromPrivateKey(Enumerable.Repeat((byte)1, 32).ToArray());
        using StaticKeyPair responder = StaticKeyPair.FromPrivateKey(Enumerable.Repeat((byte)2, 32).ToArray());
        using var noise = new NoiseIKHandshake(true, initiator, responder.PublicKeyBytes, "Ipop v1"u8, Enumerable.Repeat((byte)3, 32).ToArray());
        byte[] initiation = new byte[HandshakeInitiationMessage.Length];
        HandshakeInitiationMessage.WriteHeader(initiation, 42);
        Span<byte> stamp = stackalloc byte[Tai64N.Length];
        Tai64N.Write(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), stamp);
        _ = noise.WriteMessage1(stamp, HandshakeInitiationMessage.NoiseMessage(initiation));
        HandshakeMac.Write(initiation, HandshakeMac.DeriveKey(responder.PublicKeyBytes));
        Save(root, "tincan-messages", "initiation", initiation);
        Save(root, "tincan-receive", "initiation", initiation);
        byte[] response = new byte[HandshakeResponseMessage.Length];
        HandshakeResponseMessage.WriteHeader(response, 43, 42);
        response.AsSpan(12, 32).Fill(9);
        Save(root, "tincan-messages", "response", response);
        Save(root, "tincan-receive", "response", response);

        var descriptor = new LinkDescriptor(
            new NodePublicKey(responder.PublicKeyBytes),
            [
                new Candidate(CandidateType.Host, new IPEndPoint(IPAddress.Parse("198.18.0.5"), 5800), 2130706431, "h1"),
                new Candidate(CandidateType.Relayed, new IPEndPoint(IPAddress.Parse("2001:2::5"), 49152), 16777215, "r1", "198.18.0.6:3478"),
            ],
            "ufrag1",
            "password-of-22-chars!!");
        Save(root, "link-descriptor", "two-candidates", Encoding.UTF8.GetBytes(descriptor.ToJson()));
        var offer = new LinkNegotiationMessage(descriptor, [InterfaceAddress.Parse("198.18.1.2/24")], null) { Nonce = "n1" };
        Save(root, "link-negotiation", "offer", Encoding.UTF8.GetBytes(offer.ToJson()));
        var address = new LinkNegotiationMessage(null, [], System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-0A"))
        {
            Assigned = InterfaceAddress.Parse("fd00::2/64"),
            Bridge = true,
        };
        Save(root, "link-negotiation", "address", Encoding.UTF8.GetBytes(address.ToJson()));
    }

    private static void Save(string root, string harness, string name, ReadOnlySpan<byte> bytes)
    {
        string directory = Path.Combine(root, harness);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, name), bytes.ToArray());
    }
}
