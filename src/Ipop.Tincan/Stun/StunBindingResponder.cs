using System.Net;

namespace Ipop.Tincan.Stun;

/// <summary>
/// Server side of a Binding request (RFC 8489 section 6.3): 420 with UNKNOWN-ATTRIBUTES for
/// comprehension-required attributes we do not know, otherwise a success with XOR-MAPPED-ADDRESS.
/// Used by connectivity checks and by tests as a fake STUN server. Integrity is the caller's business.
/// </summary>
internal static class StunBindingResponder
{
    /// <summary>Writes the response to <paramref name="request"/> into <paramref name="buffer"/>; returns its length, or 0 if no response is due.</summary>
    public static int WriteResponse(ReadOnlySpan<byte> request, IPEndPoint from, Span<byte> buffer, ReadOnlySpan<byte> integrityKey = default)
    {
        if (StunMessage.TryParse(request, out StunMessage message) != StunParseError.None
            || message.Class != StunMessageClass.Request
            || message.Method != StunMethod.Binding)
        {
            return 0;
        }

        if (message.HasFingerprint && !message.VerifyFingerprint())
        {
            // RFC 8489 section 7.3: a bad FINGERPRINT means it is not STUN; silently discard.
            return 0;
        }

        Span<ushort> unknown = stackalloc ushort[16];
        int unknownCount = message.GetUnknownComprehensionRequired(unknown);
        StunMessageWriter writer;
        if (unknownCount > 0)
        {
            writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.ErrorResponse, message.TransactionId);
            writer.AppendErrorCode(StunErrorCodes.UnknownAttribute, "Unknown Attribute");
            writer.AppendUnknownAttributes(unknown[..Math.Min(unknownCount, unknown.Length)]);
        }
        else
        {
            writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.SuccessResponse, message.TransactionId);
            writer.AppendXorAddress(StunAttributeType.XorMappedAddress, from);
        }

        if (!integrityKey.IsEmpty)
        {
            writer.AppendMessageIntegrity(integrityKey);
        }

        writer.AppendFingerprint();
        return writer.Length;
    }
}
