using System.Buffers.Binary;

namespace Ipop.Tap.Netlink;

/// <summary>
/// Writes one rtnetlink request (nlmsghdr, a fixed family header, then attributes) into a caller buffer.
/// </summary>
/// <remarks>
/// Netlink fields are in host byte order; every supported .NET Linux target is little-endian, which the
/// constructor asserts so that a big-endian port fails loudly instead of sending garbage.
/// </remarks>
internal ref struct NetlinkMessageWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public NetlinkMessageWriter(Span<byte> buffer, ushort type, ushort flags, uint sequence)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("rtnetlink encoding assumes a little-endian host.");
        }

        _buffer = buffer;
        _buffer[..Rtnl.HeaderSize].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer[8..], sequence);
        // nlmsg_pid 0: the kernel fills in our port id.
        _length = Rtnl.HeaderSize;
    }

    /// <summary>The bytes written so far, with nlmsg_len filled in.</summary>
    public readonly ReadOnlySpan<byte> Message
    {
        get
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
            return _buffer[.._length];
        }
    }

    /// <summary>Appends struct ifinfomsg (RTM_*LINK).</summary>
    public void WriteInterfaceInfo(byte family, int index, uint flags, uint change)
    {
        Span<byte> s = Reserve(Rtnl.IfInfoMsgSize);
        s[0] = family;
        s[1] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], 0); // ifi_type: ignored on requests.
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], change);
    }

    /// <summary>Appends struct ifaddrmsg (RTM_*ADDR).</summary>
    public void WriteAddressInfo(byte family, byte prefixLength, byte flags, byte scope, int index)
    {
        Span<byte> s = Reserve(Rtnl.IfAddrMsgSize);
        s[0] = family;
        s[1] = prefixLength;
        s[2] = flags;
        s[3] = scope;
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], index);
    }

    /// <summary>Appends an attribute (struct nlattr and the value, padded to 4 bytes).</summary>
    public void WriteAttribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        int length = 4 + value.Length;
        Span<byte> s = Reserve(Rtnl.Align(length));
        BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], type);
        value.CopyTo(s[4..]);
        s[length..].Clear();
    }

    /// <summary>Appends a u32 attribute.</summary>
    public void WriteAttribute(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        WriteAttribute(type, bytes);
    }

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
        {
            throw new InvalidOperationException($"Netlink request does not fit its {_buffer.Length}-byte buffer.");
        }

        Span<byte> s = _buffer.Slice(_length, count);
        _length += count;
        return s;
    }
}
