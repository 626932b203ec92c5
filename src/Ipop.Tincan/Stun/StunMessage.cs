using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Stun;

/// <summary>
/// A validated, zero-copy view of one STUN message (RFC 8489 section 5). <see cref="TryParse"/> walks
/// every attribute once and rejects anything malformed; lookups then scan the span without copying.
/// Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored,
/// as RFC 8489 section 14.5 requires; FINGERPRINT must be last (section 14.7).
/// </summary>
internal readonly ref struct StunMessage
{
    public const int HeaderLength = 20;
    public const uint MagicCookie = 0x2112A442;
    public const uint FingerprintXor = 0x5354554E;
    public const int MessageIntegrityLength = 20;
    public const int MessageIntegritySha256Length = 32;

    private readonly ReadOnlySpan<byte> _data;
    private readonly int _integrityOffset;
    private readonly int _integritySha256Offset;
    private readonly int _fingerprintOffset;
    private readonly int _attributesEnd;

    private StunMessage(ReadOnlySpan<byte> data, int integrity, int integritySha256, int fingerprint, int attributesEnd)
    {
        _data = data;
        _integrityOffset = integrity;
        _integritySha256Offset = integritySha256;
        _fingerprintOffset = fingerprint;
        _attributesEnd = attributesEnd;
    }

    /// <summary>The whole message.</summary>
    public ReadOnlySpan<byte> Raw => _data;

    public ushort MessageType => BinaryPrimitives.ReadUInt16BigEndian(_data);

    public StunMethod Method => StunMessageType.GetMethod(MessageType);

    public StunMessageClass Class => StunMessageType.GetClass(MessageType);

    public StunTransactionId TransactionId => StunTransactionId.Read(_data.Slice(8, StunTransactionId.Length));

    public bool HasMessageIntegrity => _integrityOffset >= 0;

    public bool HasMessageIntegritySha256 => _integritySha256Offset >= 0;

    public bool HasFingerprint => _fingerprintOffset >= 0;

    /// <summary>Cheap check used by demultiplexers: first two bits zero, magic cookie present, length plausible.</summary>
    public static bool LooksLikeStun(ReadOnlySpan<byte> data) =>
        data.Length >= HeaderLength
        && (data[0] & 0xC0) == 0
        && BinaryPrimitives.ReadUInt32BigEndian(data[4..]) == MagicCookie
        && (data[3] & 3) == 0;

    /// <summary>Validates <paramref name="data"/> as exactly one STUN message.</summary>
    public static StunParseError TryParse(ReadOnlySpan<byte> data, out StunMessage message)
    {
        message = default;
        if (data.Length < HeaderLength)
        {
            return StunParseError.TooShort;
        }

        if ((data[0] & 0xC0) != 0 || BinaryPrimitives.ReadUInt32BigEndian(data[4..]) != MagicCookie)
        {
            return StunParseError.NotStun;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        if ((length & 3) != 0 || length != data.Length - HeaderLength)
        {
            return StunParseError.LengthMismatch;
        }

        int integrity = -1, integritySha256 = -1, fingerprint = -1;
        int attributesEnd = -1;
        int offset = HeaderLength;
        while (offset < data.Length)
        {
            if (fingerprint >= 0)
            {
                return StunParseError.FingerprintNotLast;
            }

            if (data.Length - offset < 4)
            {
                return StunParseError.AttributeOverrun;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(data[offset..]);
            int valueLength = BinaryPrimitives.ReadUInt16BigEndian(data[(offset + 2)..]);
            int padded = (valueLength + 3) & ~3;
            if (padded > data.Length - offset - 4)
            {
                return StunParseError.AttributeOverrun;
            }

            switch (type)
            {
                case StunAttributeType.MessageIntegrity when integrity < 0 && integritySha256 < 0:
                    if (valueLength != MessageIntegrityLength)
                    {
                        return StunParseError.BadAttributeLength;
                    }

                    integrity = offset;
                    break;
                case StunAttributeType.MessageIntegritySha256 when integritySha256 < 0:
                    // RFC 8489 section 14.6: at least 16 bytes, a multiple of 4, at most 32.
                    if (valueLength < 16 || valueLength > MessageIntegritySha256Length || (valueLength & 3) != 0)
                    {
                        return StunParseError.BadAttributeLength;
                    }

                    integritySha256 = offset;
                    break;
                case StunAttributeType.Fingerprint:
                    if (valueLength != 4)
                    {
                        return StunParseError.BadAttributeLength;
                    }

                    fingerprint = offset;
                    break;
            }

            if (attributesEnd < 0 && (integrity >= 0 || integritySha256 >= 0 || fingerprint >= 0))
            {
                attributesEnd = offset;
            }

            offset += 4 + padded;
        }

        message = new StunMessage(data, integrity, integritySha256, fingerprint, attributesEnd < 0 ? data.Length : attributesEnd);
        return StunParseError.None;
    }

    /// <summary>First attribute of <paramref name="type"/> before any integrity attribute.</summary>
    public bool TryGetAttribute(ushort type, out ReadOnlySpan<byte> value)
    {
        foreach (StunAttribute attribute in this)
        {
            if (attribute.Type == type)
            {
                value = attribute.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    public bool HasAttribute(ushort type) => TryGetAttribute(type, out _);

    /// <summary>Enumerates the attributes covered by integrity (those before MESSAGE-INTEGRITY/FINGERPRINT).</summary>
    public AttributeEnumerator GetEnumerator() => new(_data[.._attributesEnd]);

    /// <summary>
    /// Copies the comprehension-required attribute types we do not understand into
    /// <paramref name="destination"/> and returns how many there are (RFC 8489 section 6.3.1: answer 420).
    /// </summary>
    public int GetUnknownComprehensionRequired(Span<ushort> destination)
    {
        int count = 0;
        foreach (StunAttribute attribute in this)
        {
            if (StunAttributeType.IsComprehensionRequired(attribute.Type) && !StunAttributeType.IsKnownComprehensionRequired(attribute.Type))
            {
                if (count < destination.Length)
                {
                    destination[count] = attribute.Type;
                }

                count++;
            }
        }

        return count;
    }

    public bool TryGetXorAddress(ushort type, out IPEndPoint? endPoint)
    {
        endPoint = null;
        return TryGetAttribute(type, out ReadOnlySpan<byte> value) && StunAddress.TryRead(value, xor: true, _data, out endPoint);
    }

    public bool TryGetMappedAddress(out IPEndPoint? endPoint)
    {
        endPoint = null;
        return TryGetAttribute(StunAttributeType.MappedAddress, out ReadOnlySpan<byte> value) && StunAddress.TryRead(value, xor: false, _data, out endPoint);
    }

    /// <summary>ERROR-CODE (RFC 8489 section 14.8): class * 100 + number, and the UTF-8 reason phrase.</summary>
    public bool TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason)
    {
        code = 0;
        reason = default;
        if (!TryGetAttribute(StunAttributeType.ErrorCode, out ReadOnlySpan<byte> value) || value.Length < 4)
        {
            return false;
        }

        int errorClass = value[2] & 0x07;
        int number = value[3];
        if (errorClass < 3 || errorClass > 6 || number > 99)
        {
            return false;
        }

        code = (errorClass * 100) + number;
        reason = value[4..];
        return true;
    }

    public bool TryGetUInt32(ushort type, out uint result)
    {
        if (TryGetAttribute(type, out ReadOnlySpan<byte> value) && value.Length == 4)
        {
            result = BinaryPrimitives.ReadUInt32BigEndian(value);
            return true;
        }

        result = 0;
        return false;
    }

    public bool TryGetUInt64(ushort type, out ulong result)
    {
        if (TryGetAttribute(type, out ReadOnlySpan<byte> value) && value.Length == 8)
        {
            result = BinaryPrimitives.ReadUInt64BigEndian(value);
            return true;
        }

        result = 0;
        return false;
    }

    /// <summary>A UTF-8 text attribute as a string (control path only: allocates). Invalid UTF-8 fails.</summary>
    public bool TryGetString(ushort type, out string? text, int maxBytes = 763)
    {
        text = null;
        if (!TryGetAttribute(type, out ReadOnlySpan<byte> value) || value.Length > maxBytes || !System.Text.Unicode.Utf8.IsValid(value))
        {
            return false;
        }

        text = Encoding.UTF8.GetString(value);
        return true;
    }

    /// <summary>FINGERPRINT = CRC-32 of everything before it, XOR 0x5354554e (RFC 8489 section 14.7).</summary>
    public bool VerifyFingerprint()
    {
        if (_fingerprintOffset < 0)
        {
            return false;
        }

        uint expected = BinaryPrimitives.ReadUInt32BigEndian(_data[(_fingerprintOffset + 4)..]);
        return (StunCrc32.Compute(_data[.._fingerprintOffset]) ^ FingerprintXor) == expected;
    }

    /// <summary>Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 section 14.5) with <paramref name="key"/>.</summary>
    public bool VerifyMessageIntegrity(ReadOnlySpan<byte> key) =>
        _integrityOffset >= 0 && VerifyHmac(key, _integrityOffset, MessageIntegrityLength, sha256: false);

    /// <summary>Checks MESSAGE-INTEGRITY-SHA256 (RFC 8489 section 14.6), truncated values included.</summary>
    public bool VerifyMessageIntegritySha256(ReadOnlySpan<byte> key) =>
        _integritySha256Offset >= 0
        && VerifyHmac(key, _integritySha256Offset, BinaryPrimitives.ReadUInt16BigEndian(_data[(_integritySha256Offset + 2)..]), sha256: true);

    private bool VerifyHmac(ReadOnlySpan<byte> key, int attributeOffset, int valueLength, bool sha256)
    {
        // The HMAC covers the message up to the attribute, with the header length rewritten as if the
        // attribute were the last one (RFC 8489 section 14.5): the type, the patched length, then the rest as received.
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)(attributeOffset + 4 + valueLength - HeaderLength));
        ReadOnlySpan<byte> type = _data[..2];
        ReadOnlySpan<byte> rest = _data[4..attributeOffset];
        Span<byte> mac = stackalloc byte[32];
        ReadOnlySpan<byte> received = _data.Slice(attributeOffset + 4, valueLength);
        if (sha256)
        {
            HmacSha256.Compute(key, type, length, rest, mac);
        }
        else
        {
            // HMAC-SHA1 is mandated by RFC 8489 MESSAGE-INTEGRITY.
            HmacSha1.Compute(key, type, length, rest, mac);
        }

        return CryptographicOperations.FixedTimeEquals(mac[..valueLength], received);
    }

    /// <summary>Walks type-length-value attributes; the span has been validated by <see cref="TryParse"/>.</summary>
    public ref struct AttributeEnumerator
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _next;

        internal AttributeEnumerator(ReadOnlySpan<byte> data)
        {
            _data = data;
            _next = HeaderLength;
            Current = default;
        }

        public StunAttribute Current { get; private set; }

        public bool MoveNext()
        {
            if (_next + 4 > _data.Length)
            {
                return false;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(_data[_next..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(_data[(_next + 2)..]);
            Current = new StunAttribute(type, _data.Slice(_next + 4, length));
            _next += 4 + ((length + 3) & ~3);
            return true;
        }
    }
}

/// <summary>One attribute: its type and its value without padding.</summary>
internal readonly ref struct StunAttribute(ushort type, ReadOnlySpan<byte> value)
{
    public ushort Type { get; } = type;

    public ReadOnlySpan<byte> Value { get; } = value;
}
