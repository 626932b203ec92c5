using System.Buffers.Binary;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Tests.Stun;

public sealed class StunMessageValidationTests
{
    private delegate void WriteBody(ref StunMessageWriter writer);

    private static byte[] Build(WriteBody body)
    {
        byte[] buffer = new byte[512];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, StunTransactionId.NewRandom());
        body(ref writer);
        return buffer.AsSpan(0, writer.Length).ToArray();
    }

    [Fact]
    public void Short_datagrams_are_rejected_as_too_short()
    {
        Assert.Equal(StunParseError.TooShort, StunMessage.TryParse(Rfc5769Vectors.Request.AsSpan(0, 19), out _));
        Assert.Equal(StunParseError.TooShort, StunMessage.TryParse([], out _));
    }

    [Fact]
    public void Wrong_magic_cookie_or_top_bits_mean_not_stun()
    {
        byte[] copy = (byte[])Rfc5769Vectors.Request.Clone();
        copy[4] = 0x22;
        Assert.Equal(StunParseError.NotStun, StunMessage.TryParse(copy, out _));
        copy = (byte[])Rfc5769Vectors.Request.Clone();
        copy[0] = 0x40;
        Assert.Equal(StunParseError.NotStun, StunMessage.TryParse(copy, out _));
    }

    [Fact]
    public void Header_length_must_match_the_datagram_and_be_a_multiple_of_four()
    {
        Assert.Equal(StunParseError.LengthMismatch, StunMessage.TryParse(Rfc5769Vectors.Request.AsSpan(0, Rfc5769Vectors.Request.Length - 4), out _));
        byte[] copy = (byte[])Rfc5769Vectors.Request.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(2), 0x57);
        Assert.Equal(StunParseError.LengthMismatch, StunMessage.TryParse(copy, out _));
    }

    [Fact]
    public void An_attribute_running_past_the_end_is_rejected()
    {
        byte[] copy = (byte[])Rfc5769Vectors.Request.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(22), 0x00F0); // SOFTWARE length
        Assert.Equal(StunParseError.AttributeOverrun, StunMessage.TryParse(copy, out _));
    }

    [Fact]
    public void Fingerprint_must_be_the_last_attribute()
    {
        byte[] message = Build((ref StunMessageWriter w) =>
        {
            w.AppendFingerprint();
        });
        byte[] extended = new byte[message.Length + 8];
        message.CopyTo(extended, 0);
        BinaryPrimitives.WriteUInt16BigEndian(extended.AsSpan(2), (ushort)(extended.Length - 20));
        BinaryPrimitives.WriteUInt16BigEndian(extended.AsSpan(message.Length), StunAttributeType.Software);
        BinaryPrimitives.WriteUInt16BigEndian(extended.AsSpan(message.Length + 2), 4);
        Assert.Equal(StunParseError.FingerprintNotLast, StunMessage.TryParse(extended, out _));
    }

    [Fact]
    public void Integrity_attributes_with_wrong_lengths_are_rejected()
    {
        byte[] message = Build((ref StunMessageWriter w) => w.Append(StunAttributeType.MessageIntegrity, new byte[16]));
        Assert.Equal(StunParseError.BadAttributeLength, StunMessage.TryParse(message, out _));
        message = Build((ref StunMessageWriter w) => w.Append(StunAttributeType.Fingerprint, new byte[8]));
        Assert.Equal(StunParseError.BadAttributeLength, StunMessage.TryParse(message, out _));
        message = Build((ref StunMessageWriter w) => w.Append(StunAttributeType.MessageIntegritySha256, new byte[12]));
        Assert.Equal(StunParseError.BadAttributeLength, StunMessage.TryParse(message, out _));
    }

    [Fact]
    public void Attributes_after_message_integrity_are_ignored_except_fingerprint()
    {
        // Hand-build: USERNAME, MESSAGE-INTEGRITY, SOFTWARE (must be ignored), FINGERPRINT.
        byte[] key = StunCredentialKeys.ShortTerm("pw");
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, StunTransactionId.NewRandom());
        writer.AppendString(StunAttributeType.Username, "user");
        writer.AppendMessageIntegrity(key);
        int length = writer.Length;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(length), StunAttributeType.Software);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(length + 2), 4);
        "evil"u8.CopyTo(buffer.AsSpan(length + 4));
        length += 8;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)(length - 20));

        Assert.Equal(StunParseError.None, StunMessage.TryParse(buffer.AsSpan(0, length), out StunMessage message));
        Assert.False(message.HasAttribute(StunAttributeType.Software));
        Assert.True(message.HasAttribute(StunAttributeType.Username));
        Assert.True(message.VerifyMessageIntegrity(key));
    }

    [Fact]
    public void Writer_refuses_attributes_after_integrity_and_anything_after_fingerprint()
    {
        byte[] buffer = new byte[256];
        Assert.Throws<InvalidOperationException>(() =>
        {
            var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, default);
            writer.AppendMessageIntegrity([1, 2, 3]);
            writer.AppendString(StunAttributeType.Software, "late");
        });
        Assert.Throws<InvalidOperationException>(() =>
        {
            var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, default);
            writer.AppendFingerprint();
            writer.AppendFingerprint();
        });
        Assert.Throws<ArgumentException>(() =>
        {
            var writer = new StunMessageWriter(buffer.AsSpan(0, 30), StunMethod.Binding, StunMessageClass.Request, default);
            writer.AppendString(StunAttributeType.Software, "too long for the buffer");
        });
    }

    [Fact]
    public void Integrity_sha256_round_trips_after_sha1_and_before_fingerprint()
    {
        byte[] key = StunCredentialKeys.LongTerm("u", "r", "p");
        byte[] message = Build((ref StunMessageWriter w) =>
        {
            w.AppendString(StunAttributeType.Username, "u");
            w.AppendMessageIntegrity(key);
            w.AppendMessageIntegritySha256(key);
            w.AppendFingerprint();
        });
        Assert.Equal(StunParseError.None, StunMessage.TryParse(message, out StunMessage parsed));
        Assert.True(parsed.VerifyMessageIntegrity(key));
        Assert.True(parsed.VerifyMessageIntegritySha256(key));
        Assert.False(parsed.VerifyMessageIntegritySha256(StunCredentialKeys.LongTerm("u", "r", "q")));
        Assert.True(parsed.VerifyFingerprint());
    }

    [Fact]
    public void Unknown_comprehension_required_attributes_are_reported_and_answered_with_420()
    {
        byte[] request = Build((ref StunMessageWriter w) =>
        {
            w.Append(0x7F01, [1, 2, 3, 4]);
            w.Append(0xC001, [5]); // comprehension-optional: ignored
            w.Append(0x0003, []);  // CHANGE-REQUEST from RFC 3489: not ours
            w.AppendFingerprint();
        });
        Assert.Equal(StunParseError.None, StunMessage.TryParse(request, out StunMessage parsed));
        Span<ushort> unknown = stackalloc ushort[4];
        Assert.Equal(2, parsed.GetUnknownComprehensionRequired(unknown));
        Assert.Equal([0x7F01, 0x0003], unknown[..2].ToArray());

        byte[] response = new byte[256];
        int length = StunBindingResponder.WriteResponse(request, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 9), response);
        Assert.Equal(StunParseError.None, StunMessage.TryParse(response.AsSpan(0, length), out StunMessage answer));
        Assert.Equal(StunMessageClass.ErrorResponse, answer.Class);
        Assert.True(answer.TryGetErrorCode(out int code, out _));
        Assert.Equal(420, code);
        Assert.True(answer.TryGetAttribute(StunAttributeType.UnknownAttributes, out ReadOnlySpan<byte> list));
        Assert.Equal("7f010003", Convert.ToHexStringLower(list));
        Assert.True(answer.VerifyFingerprint());
    }

    [Fact]
    public void Error_code_round_trips_class_number_and_reason()
    {
        byte[] message = Build((ref StunMessageWriter w) => w.AppendErrorCode(438, "Stale Nonce"));
        Assert.Equal(StunParseError.None, StunMessage.TryParse(message, out StunMessage parsed));
        Assert.True(parsed.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason));
        Assert.Equal(438, code);
        Assert.Equal("Stale Nonce", System.Text.Encoding.UTF8.GetString(reason));
    }
}
