using System.Net;
using Ipop.Tincan.Stun;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// STUN/TURN messages (RFC 8489/8656) as the socket hands them over: <see cref="StunMessage.TryParse"/>, then every
/// reader that a binding client, the ICE checks and a TURN allocation apply to a parsed message. Rejection: a
/// <see cref="StunParseError"/> or a false return.
/// </summary>
internal sealed class StunHarness : IHarness
{
    private static readonly ushort[] AddressAttributes =
    [
        StunAttributeType.XorMappedAddress, StunAttributeType.XorPeerAddress, StunAttributeType.XorRelayedAddress,
        StunAttributeType.AlternateServer,
    ];

    private static readonly byte[] Key = "fuzz-password"u8.ToArray();

    public string Name => "stun";

    public string Description => "STUN/TURN message parser and its attribute readers (Ipop.Tincan/Stun)";

    public void Run(ReadOnlySpan<byte> input)
    {
        _ = DatagramClassifier.Classify(input);
        _ = StunMessage.LooksLikeStun(input);
        if (StunMessage.TryParse(input, out StunMessage message) != StunParseError.None)
        {
            return;
        }

        _ = message.Method;
        _ = message.Class;
        _ = message.TransactionId;
        foreach (StunAttribute attribute in message)
        {
            _ = attribute.Value.Length;
        }

        Span<ushort> unknown = stackalloc ushort[8];
        _ = message.GetUnknownComprehensionRequired(unknown);
        foreach (ushort type in AddressAttributes)
        {
            _ = message.TryGetXorAddress(type, out IPEndPoint? _);
        }

        _ = message.TryGetMappedAddress(out _);
        _ = message.TryGetErrorCode(out _, out _);
        _ = message.TryGetUInt32(StunAttributeType.Lifetime, out _);
        _ = message.TryGetUInt32(StunAttributeType.Priority, out _);
        _ = message.TryGetUInt32(StunAttributeType.ChannelNumber, out _);
        _ = message.TryGetUInt64(StunAttributeType.IceControlling, out _);
        _ = message.TryGetUInt64(StunAttributeType.IceControlled, out _);
        _ = message.TryGetString(StunAttributeType.Username, out _);
        _ = message.TryGetString(StunAttributeType.Realm, out _);
        _ = message.TryGetString(StunAttributeType.Nonce, out _);
        _ = message.TryGetString(StunAttributeType.Software, out _);
        _ = message.TryGetAttribute(StunAttributeType.Data, out _);
        _ = message.VerifyFingerprint();
        _ = message.VerifyMessageIntegrity(Key);
        _ = message.VerifyMessageIntegritySha256(Key);
    }
}
