using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>Local candidates: the host candidates of the descriptor, the bases connectivity checks go out from, and the stats' view.</summary>
internal sealed partial class LinkManager
{
    private readonly ConcurrentDictionary<IPAddress, Candidate> _localToward = new();

    /// <summary>
    /// The link a check request addressed to us belongs to: one whose peer uses <paramref name="sender"/> as its check
    /// username and whose inbound key (<see cref="Ice.CheckKeys.Inbound"/>) verifies the request's MESSAGE-INTEGRITY,
    /// or null. Two peers may present the same username (by chance, or an insider copying another's descriptor), so
    /// every link with that name is tried: a check reaches the link whose key signed it, never merely the first with
    /// the name. <paramref name="named"/> says whether any link has that username at all.
    /// </summary>
    /// <remarks>Costs one HMAC per link with that username: one in practice, and only authorized peers choose usernames.</remarks>
    internal TincanLink? LinkForCheck(string sender, in Stun.StunMessage request, out bool named)
    {
        named = false;
        foreach (TincanLink link in _snapshot)
        {
            if (!string.Equals(link.RemoteCheckUsername, sender, StringComparison.Ordinal))
            {
                continue;
            }

            named = true;
            if (link.CheckKeys is { } keys && request.VerifyMessageIntegrity(keys.Inbound))
            {
                return link;
            }
        }

        return null;
    }

    /// <summary>Local candidates that checks are sent from: the socket (one base per address family) and our relay.</summary>
    internal List<Candidate> CheckBases()
    {
        var bases = new List<Candidate>(3);
        if (Mux is { } mux)
        {
            if (mux.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || mux.DualMode)
            {
                bases.Add(HostBase(ipv4: true));
            }

            if (mux.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                bases.Add(HostBase(ipv4: false));
            }
        }

        if (Nat?.RelayedCandidate is { } relayed)
        {
            bases.Add(relayed);
        }

        return bases;
    }

    /// <summary>
    /// The host candidate that traffic to <paramref name="remote"/> leaves from: on a socket bound to the any address
    /// the kernel picks the source address per route, so stats ask it (a UDP connect on a throwaway socket sends
    /// nothing) instead of reporting "::". Cached per destination; stats and logs only, never the packet path.
    /// </summary>
    internal Candidate? LocalCandidateToward(System.Net.IPEndPoint? remote)
    {
        Candidate? host = LocalHostCandidate;
        if (host is null || remote is null
            || !(host.EndPoint.Address.Equals(System.Net.IPAddress.Any) || host.EndPoint.Address.Equals(System.Net.IPAddress.IPv6Any)))
        {
            return host;
        }

        System.Net.IPAddress destination = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        if (_localToward.TryGetValue(destination, out Candidate? known))
        {
            return known;
        }

        try
        {
            using var probe = new System.Net.Sockets.Socket(destination.AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            probe.Connect(new System.Net.IPEndPoint(destination, remote.Port == 0 ? 9 : remote.Port));
            var source = ((System.Net.IPEndPoint)probe.LocalEndPoint!).Address;
            Candidate local = host with { EndPoint = new System.Net.IPEndPoint(source, host.EndPoint.Port) };
            if (_localToward.Count > 256)
            {
                _localToward.Clear();
            }

            _localToward[destination] = local;
            return local;
        }
        catch (System.Net.Sockets.SocketException)
        {
            // No route (yet): report the socket's own address.
            return host;
        }
    }

    /// <summary>The local candidate a check that arrived on the socket from <paramref name="from"/> was sent to.</summary>
    internal Candidate HostBaseFor(System.Net.IPEndPoint from) =>
        HostBase(ipv4: from.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || from.Address.IsIPv4MappedToIPv6);

    // The socket as a check base for one address family: pairs are formed and found per family (Checklist.SameBase).
    private Candidate HostBase(bool ipv4) =>
        new(CandidateType.Host, new System.Net.IPEndPoint(ipv4 ? System.Net.IPAddress.Any : System.Net.IPAddress.IPv6Any, Mux?.LocalEndPoint.Port ?? 0), Candidate.ComputePriority(CandidateType.Host, 65535), ipv4 ? "host4" : "host6");

    private System.Collections.Immutable.ImmutableArray<Candidate> GatherHostCandidates(UdpMux mux)
    {
        var list = System.Collections.Immutable.ImmutableArray.CreateBuilder<Candidate>();
        IPAddress listen = IPAddress.Parse(_options.ListenAddress);
        int port = mux.LocalEndPoint.Port;
        if (!listen.Equals(IPAddress.Any) && !listen.Equals(IPAddress.IPv6Any))
        {
            list.Add(new Candidate(CandidateType.Host, new IPEndPoint(listen, port), Candidate.ComputePriority(CandidateType.Host, 65535), "host0"));
            return list.ToImmutable();
        }

        int preference = 65535;
        try
        {
            foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                // Not our own TUN/TAP: an overlay address as a candidate would send handshakes into the tunnel.
                if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType is NetworkInterfaceType.Loopback or NetworkInterfaceType.Tunnel
                    || string.Equals(nic.Name, Volatile.Read(ref _binding)?.Nic.Name, StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (UnicastIPAddressInformation info in nic.GetIPProperties().UnicastAddresses)
                {
                    IPAddress a = info.Address;
                    bool usable = a.AddressFamily == AddressFamily.InterNetwork
                        || (a.AddressFamily == AddressFamily.InterNetworkV6 && mux.AddressFamily == AddressFamily.InterNetworkV6 && !a.IsIPv6LinkLocal && !a.IsIPv6Multicast);
                    if (usable && list.Count < LinkDescriptor.MaxCandidates - 1)
                    {
                        list.Add(new Candidate(CandidateType.Host, new IPEndPoint(a, port), Candidate.ComputePriority(CandidateType.Host, preference), "host" + list.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                        preference = Math.Max(0, preference - 1);
                    }
                }
            }
        }
        catch (NetworkInformationException e)
        {
            LogInterfacesFailed(_logger, e);
        }

        if (list.Count == 0)
        {
            list.Add(new Candidate(CandidateType.Host, new IPEndPoint(IPAddress.Loopback, port), Candidate.ComputePriority(CandidateType.Host, 0), "host0"));
        }

        return list.ToImmutable();
    }
}
