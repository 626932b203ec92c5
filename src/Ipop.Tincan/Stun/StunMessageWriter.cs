using System.Buffers.Binary;
using System.Net;
using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Stun;

/// <summary>
/// Writes one STUN message into a caller-provided span (RFC 8489 section 5): header first, then
/// attributes, each padded to 4 bytes, keeping the header's length current so integrity attributes
/// can be computed at any point. A buffer that is too small is a programmer error and throws.
/// </summary>
internal ref struct StunMessageWriter
{
    private readonly Span<byte> _buffer;
    private int _length;
    private bool _sealed;
    private bool _integrityWritten;

    public StunMessageWriter(Span<byte> buffer, StunMethod method, StunMessageClass messageClass, StunTransactionId transactionId)
        : this(buffer, StunMessageType.Encode(method, messageClass), transactionId)
    {
    }

    public StunMessageWriter(Span<byte> buffer, ushort messageType, StunTransactionId transactionId)
    {
        if (buffer.Length < StunMessage.HeaderLength)
        {
            throw new ArgumentException("Buffer too small for a STUN header.", nameof(buffer));
        }

        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)(messageType & 0x3FFF));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], StunMessage.MagicCookie);
        transactionId.Write(buffer.Slice(8, StunTransactionId.Length));
        _length = StunMessage.HeaderLength;
        PaddingByte = 0;
    }

    /// <summary>Value of padding bytes. RFC 8489 says any value; RFC 5769's vectors use spaces.</summary>
    public byte PaddingByte { get; set; }

    public readonly int Length => _length;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    /// <summary>Reserves an attribute of <paramref name="valueLength"/> bytes, writes its header and padding, returns the value slot.</summary>
    public Span<byte> AppendSlot(ushort type, int valueLength)
    {
        if (_sealed)
        {
            throw new InvalidOperationException("Nothing may follow FINGERPRINT.");
        }

        if (_integrityWritten && type is not (StunAttributeType.MessageIntegritySha256 or StunAttributeType.Fingerprint))
        {
            throw new InvalidOperationException($"Attribute 0x{type:x4} after MESSAGE-INTEGRITY would be ignored by the receiver (RFC 8489 section 14.5).");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(valueLength, ushort.MaxValue);
        int padded = (valueLength + 3) & ~3;
        if (_length + 4 + padded > _buffer.Length || _length + 4 + padded - StunMessage.HeaderLength > ushort.MaxValue)
        {
            throw new ArgumentException($"STUN buffer of {_buffer.Length} bytes is too small.");
        }

        Span<byte> at = _buffer[_length..];
        BinaryPrimitives.WriteUInt16BigEndian(at, type);
        BinaryPrimitives.WriteUInt16BigEndian(at[2..], (ushort)valueLength);
        at.Slice(4 + valueLength, padded - valueLength).Fill(PaddingByte);
        _length += 4 + padded;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length - StunMessage.HeaderLength));
        return at.Slice(4, valueLength);
    }

    public void Append(ushort type, scoped ReadOnlySpan<byte> value) => value.CopyTo(AppendSlot(type, value.Length));

    public void AppendFlag(ushort type) => AppendSlot(type, 0);

    public void AppendUInt32(ushort type, uint value) => BinaryPrimitives.WriteUInt32BigEndian(AppendSlot(type, 4), value);

    public void AppendUInt64(ushort type, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(AppendSlot(type, 8), value);

    public void AppendString(ushort type, string value) =>
        Encoding.UTF8.GetBytes(value, AppendSlot(type, Encoding.UTF8.GetByteCount(value)));

    public void AppendXorAddress(ushort type, IPEndPoint endPoint) =>
        StunAddress.Write(AppendSlot(type, StunAddress.ValueLength(endPoint)), endPoint, xor: true, _buffer);

    public void AppendMappedAddress(IPEndPoint endPoint) =>
        StunAddress.Write(AppendSlot(StunAttributeType.MappedAddress, StunAddress.ValueLength(endPoint)), endPoint, xor: false, _buffer);

    /// <summary>ERROR-CODE: 21 reserved bits, class (hundreds), number (RFC 8489 section 14.8).</summary>
    public void AppendErrorCode(int code, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(code, 300);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 699);
        Span<byte> slot = AppendSlot(StunAttributeType.ErrorCode, 4 + Encoding.UTF8.GetByteCount(reason));
        slot[0] = 0;
        slot[1] = 0;
        slot[2] = (byte)(code / 100);
        slot[3] = (byte)(code % 100);
        Encoding.UTF8.GetBytes(reason, slot[4..]);
    }

    public void AppendUnknownAttributes(scoped ReadOnlySpan<ushort> types)
    {
        Span<byte> slot = AppendSlot(StunAttributeType.UnknownAttributes, types.Length * 2);
        for (int i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(slot[(i * 2)..], types[i]);
        }
    }

    /// <summary>REQUESTED-TRANSPORT: protocol number then 3 RFFU bytes (RFC 8656 section 18.7); 17 is UDP.</summary>
    public void AppendRequestedTransport(byte protocol)
    {
        Span<byte> slot = AppendSlot(StunAttributeType.RequestedTransport, 4);
        slot.Clear();
        slot[0] = protocol;
    }

    /// <summary>CHANNEL-NUMBER: the number then 2 RFFU bytes (RFC 8656 section 18.1).</summary>
    public void AppendChannelNumber(ushort channel)
    {
        Span<byte> slot = AppendSlot(StunAttributeType.ChannelNumber, 4);
        BinaryPrimitives.WriteUInt16BigEndian(slot, channel);
        slot[2] = 0;
        slot[3] = 0;
    }

    /// <summary>HMAC-SHA1 over the message so far, with the length already counting this attribute (RFC 8489 section 14.5).</summary>
    public void AppendMessageIntegrity(scoped ReadOnlySpan<byte> key)
    {
        if (_integrityWritten)
        {
            throw new InvalidOperationException("MESSAGE-INTEGRITY must come before MESSAGE-INTEGRITY-SHA256 and only once.");
        }

        int covered = _length;
        Span<byte> slot = AppendSlot(StunAttributeType.MessageIntegrity, StunMessage.MessageIntegrityLength);
        HmacSha1.Compute(key, _buffer[..covered], slot);
        _integrityWritten = true;
    }

    /// <summary>HMAC-SHA256, full 32 bytes (RFC 8489 section 14.6).</summary>
    public void AppendMessageIntegritySha256(scoped ReadOnlySpan<byte> key)
    {
        int covered = _length;
        Span<byte> slot = AppendSlot(StunAttributeType.MessageIntegritySha256, StunMessage.MessageIntegritySha256Length);
        HmacSha256.Compute(key, _buffer[..covered], slot);
        _integrityWritten = true;
    }

    /// <summary>CRC-32 of the message so far XOR 0x5354554e; must be last (RFC 8489 section 14.7).</summary>
    public void AppendFingerprint()
    {
        int covered = _length;
        Span<byte> slot = AppendSlot(StunAttributeType.Fingerprint, 4);
        BinaryPrimitives.WriteUInt32BigEndian(slot, StunCrc32.Compute(_buffer[..covered]) ^ StunMessage.FingerprintXor);
        _sealed = true;
    }
}
