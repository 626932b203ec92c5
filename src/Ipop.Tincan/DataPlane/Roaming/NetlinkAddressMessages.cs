using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan.DataPlane.Roaming;

/// <summary>
/// Reads the address notifications of an rtnetlink socket (RTM_NEWADDR/RTM_DELADDR, <c>linux/rtnetlink.h</c>,
/// <c>linux/if_addr.h</c>): which interface gained or lost which address. Pure, on spans: the socket is
/// <see cref="AddressMonitor"/>'s.
/// </summary>
internal static class NetlinkAddressMessages
{
    internal const ushort NewAddress = 20;
    internal const ushort DeleteAddress = 21;
    private const int HeaderLength = 16;
    private const int IfAddrLength = 8;
    private const ushort AttributeAddress = 1;
    private const ushort AttributeLocal = 2;
    private const byte FamilyInet = 2;
    private const byte FamilyInet6 = 10;

    /// <summary>Adds every address change in <paramref name="buffer"/> (one receive, possibly several messages) to <paramref name="into"/>.</summary>
    /// <returns>How many messages were malformed (skipped; the rest is still read when the lengths allow).</returns>
    public static int Parse(ReadOnlySpan<byte> buffer, List<AddressChange> into)
    {
        int malformed = 0;
        while (buffer.Length >= HeaderLength)
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(buffer[4..]);
            if (length < HeaderLength || length > buffer.Length)
            {
                return malformed + 1; // the lengths cannot be trusted past here
            }

            if (type is NewAddress or DeleteAddress)
            {
                if (TryRead(buffer[HeaderLength..length], type == NewAddress, out AddressChange change))
                {
                    into.Add(change);
                }
                else
                {
                    malformed++;
                }
            }

            int aligned = Align(length);
            buffer = aligned >= buffer.Length ? [] : buffer[aligned..];
        }

        return malformed;
    }

    private static bool TryRead(ReadOnlySpan<byte> body, bool added, out AddressChange change)
    {
        change = default;
        if (body.Length < IfAddrLength || (body[0] != FamilyInet && body[0] != FamilyInet6))
        {
            return false;
        }

        int addressLength = body[0] == FamilyInet ? 4 : 16;
        int index = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        IPAddress? address = null;
        ReadOnlySpan<byte> attributes = body[IfAddrLength..];
        while (attributes.Length >= 4)
        {
            int length = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]);
            if (length < 4 || length > attributes.Length)
            {
                return false;
            }

            // IFA_LOCAL is the interface's own address on point-to-point links (IFA_ADDRESS is the far end there).
            if ((type == AttributeLocal || (type == AttributeAddress && address is null)) && length - 4 == addressLength)
            {
                address = new IPAddress(attributes.Slice(4, addressLength));
            }

            int aligned = Align(length);
            attributes = aligned >= attributes.Length ? [] : attributes[aligned..];
        }

        if (address is null)
        {
            return false;
        }

        change = new AddressChange(added, index, address);
        return true;
    }

    private static int Align(int length) => (length + 3) & ~3;
}
