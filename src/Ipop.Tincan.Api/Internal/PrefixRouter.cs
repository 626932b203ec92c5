using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// The built-in TUN router: destination prefix to link, longest prefix wins; inbound packets are accepted
/// only when their source address routes back to the link they came on (WireGuard's cryptokey routing),
/// so one peer cannot inject packets with another peer's virtual address.
/// </summary>
/// <remarks>
/// Readers take a snapshot array that writers replace under a lock; a VPN has a handful of routes per
/// peer, so a linear scan over entries sorted longest-first is fast and allocation-free.
/// </remarks>
internal sealed class PrefixRouter : IControllerRouter
{
    private readonly Lock _writeLock = new();
    private Entry[] _v4 = [];
    private Entry[] _v6 = [];

    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        ITincanLink? link = Lookup(packet, destination: true);
        return link is null ? RouteDecision.Drop : RouteDecision.To(link);
    }

    public bool AcceptInbound(ITincanLink from, Span<byte> packet) => ReferenceEquals(Lookup(packet, destination: false), from);

    public void SetRoute(IPNetwork prefix, ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        var entry = new Entry(prefix.BaseAddress.GetAddressBytes(), prefix.PrefixLength, prefix, link);
        lock (_writeLock)
        {
            if (prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
            {
                Volatile.Write(ref _v6, Insert(_v6, entry));
            }
            else
            {
                Volatile.Write(ref _v4, Insert(_v4, entry));
            }
        }
    }

    public bool RemoveRoute(IPNetwork prefix)
    {
        lock (_writeLock)
        {
            int before = _v4.Length + _v6.Length;
            Volatile.Write(ref _v4, Array.FindAll(_v4, e => e.Network != prefix));
            Volatile.Write(ref _v6, Array.FindAll(_v6, e => e.Network != prefix));
            return _v4.Length + _v6.Length != before;
        }
    }

    public void RemoveRoutes(ITincanLink link)
    {
        lock (_writeLock)
        {
            Volatile.Write(ref _v4, Array.FindAll(_v4, e => !ReferenceEquals(e.Link, link)));
            Volatile.Write(ref _v6, Array.FindAll(_v6, e => !ReferenceEquals(e.Link, link)));
        }
    }

    public void SetMacRoute(PhysicalAddress mac, ITincanLink link) => throw new NotSupportedException("A TUN interface routes by IP prefix, not by MAC address.");

    public bool RemoveMacRoute(PhysicalAddress mac) => throw new NotSupportedException("A TUN interface routes by IP prefix, not by MAC address.");

    private ITincanLink? Lookup(ReadOnlySpan<byte> packet, bool destination)
    {
        if (packet.IsEmpty)
        {
            return null;
        }

        // IPv4 header: source at 12, destination at 16 (RFC 791); IPv6: source at 8, destination at 24 (RFC 8200).
        switch (packet[0] >> 4)
        {
            case 4 when packet.Length >= 20:
                return Match(Volatile.Read(ref _v4), packet.Slice(destination ? 16 : 12, 4));
            case 6 when packet.Length >= 40:
                return Match(Volatile.Read(ref _v6), packet.Slice(destination ? 24 : 8, 16));
            default:
                return null;
        }
    }

    private static ITincanLink? Match(Entry[] entries, ReadOnlySpan<byte> address)
    {
        foreach (Entry e in entries)
        {
            if (Covers(e.Prefix, e.Length, address))
            {
                return e.Link;
            }
        }

        return null;
    }

    private static bool Covers(byte[] prefix, int length, ReadOnlySpan<byte> address)
    {
        int whole = length / 8;
        if (!address[..whole].SequenceEqual(prefix.AsSpan(0, whole)))
        {
            return false;
        }

        int bits = length % 8;
        if (bits == 0)
        {
            return true;
        }

        int mask = 0xFF << (8 - bits) & 0xFF;
        return (address[whole] & mask) == (prefix[whole] & mask);
    }

    private static Entry[] Insert(Entry[] entries, Entry entry)
    {
        var list = new List<Entry>(entries.Length + 1);
        list.AddRange(entries.Where(e => e.Network != entry.Network));
        list.Add(entry);
        list.Sort((a, b) => b.Length.CompareTo(a.Length));
        return [.. list];
    }

    private sealed record Entry(byte[] Prefix, int Length, IPNetwork Network, ITincanLink Link);
}
