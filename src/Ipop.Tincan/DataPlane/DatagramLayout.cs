using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The one definition of a data-path buffer: every Ipop datagram is built in a buffer laid out like this, so it is
/// sealed in place and a relayed path adds its header in place, with no copy on the way to the socket.
/// </summary>
/// <remarks>
/// <code>
///  0          4                          20                       20+n               36+n
///  +----------+--------------------------+------------------------+-------------------+
///  | headroom | transport header         | payload (n bytes)      | Poly1305 tag      |
///  |          | type, kind, 2 reserved,  | sealed in place        |                   |
///  |          | receiver index, counter  |                        |                   |
///  +----------+--------------------------+------------------------+-------------------+
///  ^ Headroom  ^ HeaderOffset             ^ PayloadOffset          ^ PayloadOffset + n
///  |--------------------------- BufferSize(n) ------------------------------------------|
/// </code>
/// The headroom holds nothing on a direct path (the socket sends from <see cref="HeaderOffset"/>); a relayed path
/// writes its TURN ChannelData header there (RFC 8656 section 12.4: channel number, length). The transport header
/// is the AEAD associated data (<see cref="TransportHeader"/>). Handshake messages and connectivity checks use the
/// same headroom, so every <see cref="ILinkPath.Send"/> gets one shape of buffer.
/// </remarks>
internal static class DatagramLayout
{
    /// <summary>Spare bytes in front of every datagram: room for the 4-byte ChannelData header.</summary>
    public const int Headroom = ChannelData.HeaderLength;

    /// <summary>Where the Ipop datagram (its transport header, for a transport packet) starts.</summary>
    public const int HeaderOffset = Headroom;

    /// <summary>Where a transport packet's payload starts: after the headroom and the 16-byte transport header.</summary>
    public const int PayloadOffset = HeaderOffset + TransportHeader.Length;

    /// <summary>The AEAD tag after the sealed payload.</summary>
    public const int TagLength = TransportCipher.TagLength;

    /// <summary>A buffer that holds a transport packet with up to <paramref name="maxPayload"/> bytes of payload.</summary>
    public static int BufferSize(int maxPayload) => PayloadOffset + maxPayload + TagLength;
}
