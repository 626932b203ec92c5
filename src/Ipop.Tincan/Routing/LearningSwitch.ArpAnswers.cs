using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Ipop.Tincan;

/// <summary>
/// ARP suppression (structured overlays in switch mode, docs/routing.md "ARP answered locally"): an ARP request from this
/// node's interface for a member's IPv4 address is answered on the interface with the member's MAC, as EVPN's ARP
/// suppression does, instead of being flooded to every member.
/// </summary>
/// <remarks>
/// A member's ARP request is a broadcast: the bounded flood carries it to all N members, and a group starting up has
/// every member resolve every other, N·(N−1) requests and N²·(N−1) deliveries. The controller knows each member's
/// address and MAC (both announced, both first-holder), so it hands the pairs to the switch, which answers from them.
/// Requests for other addresses (stations behind a bridge, addresses nobody announced) are flooded as before.
/// </remarks>
public sealed partial class LearningSwitch
{
    private const int ArpLength = 28;
    private readonly ConcurrentDictionary<uint, ulong> _arpEntries = new();
    private long _arpAnswered;

    /// <summary>ARP requests answered on the interface from the entries (<see cref="SetArpEntry"/>).</summary>
    public long ArpAnswered => Interlocked.Read(ref _arpAnswered);

    /// <summary>
    /// Answers ARP requests from this node's interface for <paramref name="address"/> with <paramref name="mac"/>,
    /// replacing an earlier entry for it. Used only once the switch has a ring position (a structured overlay).
    /// </summary>
    /// <returns><c>false</c> (nothing changed) for an address that is not IPv4 or a MAC that is not unicast.</returns>
    public bool SetArpEntry(IPAddress address, PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(address);
        ulong key = ToKey(mac);
        if (address.AddressFamily != AddressFamily.InterNetwork || (key & GroupBit) != 0)
        {
            return false;
        }

        _arpEntries[Ipv4Key(address)] = key;
        return true;
    }

    /// <summary>Removes the entry for <paramref name="address"/> if it still names <paramref name="mac"/> (another member may hold the address now).</summary>
    /// <returns><c>false</c> if there was no such entry.</returns>
    public bool RemoveArpEntry(IPAddress address, PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily == AddressFamily.InterNetwork && _arpEntries.TryRemove(KeyValuePair.Create(Ipv4Key(address), ToKey(mac)));
    }

    /// <summary>
    /// When <paramref name="frame"/> is an ARP request (Ethernet, IPv4, untagged) for an address with an entry, rewrites
    /// it in place into the reply from that address's MAC to the requester, to be written back to the interface.
    /// </summary>
    /// <returns><c>true</c> when <paramref name="frame"/> now holds the reply.</returns>
    private bool TryAnswerArp(Span<byte> frame)
    {
        if (frame.Length < EthernetHeaderLength + ArpLength
            || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0806)
        {
            return false;
        }

        Span<byte> arp = frame.Slice(EthernetHeaderLength, ArpLength);
        if (BinaryPrimitives.ReadUInt32BigEndian(arp) != 0x0001_0800 || arp[4] != 6 || arp[5] != 4
            || BinaryPrimitives.ReadUInt16BigEndian(arp[6..]) != 1)
        {
            return false; // not Ethernet/IPv4, or not a request
        }

        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp[14..]);
        uint targetIp = BinaryPrimitives.ReadUInt32BigEndian(arp[24..]);
        if (senderIp == targetIp || !_arpEntries.TryGetValue(targetIp, out ulong targetMac))
        {
            return false; // an announcement (gratuitous ARP), or an address the controller did not give
        }

        // Reply: Ethernet to the requester from the target; sender = target (MAC, IP), target = requester (MAC, IP).
        Span<byte> requesterMac = stackalloc byte[6];
        arp.Slice(8, 6).CopyTo(requesterMac);
        requesterMac.CopyTo(frame);
        WriteMac(frame[6..], targetMac);
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], 2);
        WriteMac(arp[8..], targetMac);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], targetIp);
        requesterMac.CopyTo(arp[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], senderIp);
        Interlocked.Increment(ref _arpAnswered);
        return true;
    }

    private static uint Ipv4Key(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    private static void WriteMac(Span<byte> destination, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)mac);
    }
}
