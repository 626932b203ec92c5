using System.Buffers.Binary;

namespace Ipop.Tap.Offload;

/// <summary>
/// <c>struct virtio_net_hdr</c> (linux/virtio_net.h), the 10-byte prefix of every read and write on a TUN/TAP fd
/// opened with <c>IFF_VNET_HDR</c>. It tells which checksum is left to finish and how to cut a super-packet.
/// </summary>
/// <remarks>
/// The fields are in the machine's byte order for a legacy (non-virtio-1) header, which is what tun uses unless
/// TUNSETVNETLE/BE is set; every platform .NET runs Linux on here is little-endian.
/// </remarks>
internal readonly record struct VirtioNetHeader(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize, ushort ChecksumStart, ushort ChecksumOffset)
{
    /// <summary>sizeof(struct virtio_net_hdr).</summary>
    public const int Size = 10;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum is partial (pseudo-header only); finish it at start+offset.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the checksum was already verified.</summary>
    public const byte FlagDataValid = 2;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;

    /// <summary>VIRTIO_NET_HDR_GSO_ECN: a flag on the GSO type (set only when TUN_F_TSO_ECN was negotiated, which we do not).</summary>
    public const byte GsoEcn = 0x80;

    public static VirtioNetHeader Read(ReadOnlySpan<byte> source) => new(
        source[0],
        source[1],
        BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[8..]));

    public void Write(Span<byte> destination)
    {
        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], ChecksumOffset);
    }
}
