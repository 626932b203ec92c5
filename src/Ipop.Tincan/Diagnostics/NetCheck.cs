using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Diagnostics;

/// <summary>
/// <c>netcheck</c>: what this node's network does to peer-to-peer links, asked of the configured STUN and TURN
/// servers from a fresh UDP socket in the node's network namespace.
/// </summary>
/// <remarks>
/// One socket per address family asks every server at once, so the answers show how the NAT maps that one socket
/// toward different destinations (RFC 4787): the same public address and port from every server means hole punching
/// works; different ones mean links to peers behind NATs will relay. TURN servers get an unauthenticated Allocate
/// (answered with 401 by a live server) only to measure their latency; no credential is sent.
/// </remarks>
public static class NetCheck
{
    /// <summary>Runs the checks (all servers at once) and returns what they found; never throws for an unanswered server.</summary>
    /// <param name="options">The node's options: its STUN and TURN servers are asked.</param>
    /// <param name="timeout">How long to wait for each server's answer.</param>
    /// <param name="cancellationToken">Stops the checks.</param>
    public static async Task<NetCheckReport> RunAsync(TincanOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);

        var targets = new List<NetCheckTarget>();
        foreach (StunServerOptions s in options.StunServers)
        {
            targets.AddRange(await ResolveAsync("stun", new StunServerEndpoint(s.Host, s.Port), cancellationToken).ConfigureAwait(false));
        }

        foreach (TurnServerOptions t in options.TurnServers)
        {
            targets.AddRange(await ResolveAsync("turn", new StunServerEndpoint(t.Host, t.Port), cancellationToken).ConfigureAwait(false));
        }

        using var v4 = NetCheckSocket.TryOpen(AddressFamily.InterNetwork);
        using var v6 = NetCheckSocket.TryOpen(AddressFamily.InterNetworkV6);
        var asks = new List<Task>();
        foreach (NetCheckTarget target in targets)
        {
            if (target.Address is null)
            {
                continue;
            }

            NetCheckSocket? socket = target.Address.AddressFamily == AddressFamily.InterNetwork ? v4 : v6;
            if (socket is null)
            {
                target.Error = $"no {(target.Address.AddressFamily == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} socket could be opened here";
                continue;
            }

            asks.Add(socket.AskAsync(target, timeout, cancellationToken));
        }

        await Task.WhenAll(asks).ConfigureAwait(false);

        var servers = targets.Select(t => new NetCheckServer(t.Kind, t.Server, t.Address?.ToString(), t.RoundTrip, t.Mapped?.ToString(), t.Error)).ToList();
        (NatMapping mapping, string detail) = NetCheckMappingRule.Classify(
            targets.Where(t => t.Kind == "stun" && t.Address?.AddressFamily == AddressFamily.InterNetwork && t.Mapped is not null).Select(t => (t.Address!, t.Mapped!)).ToList(),
            v4?.LocalPort ?? 0,
            LocalAddresses());
        List<NetCheckTarget> stun6 = [.. targets.Where(t => t.Kind == "stun" && t.Address?.AddressFamily == AddressFamily.InterNetworkV6)];
        bool? ipv6 = stun6.Count == 0 ? null : stun6.Any(t => t.Mapped is not null);
        return new NetCheckReport(mapping, detail, ipv6, servers);
    }

    private static async Task<IEnumerable<NetCheckTarget>> ResolveAsync(string kind, StunServerEndpoint server, CancellationToken cancellationToken)
    {
        string name = server.ToString();
        if (IPAddress.TryParse(server.Host, out IPAddress? literal))
        {
            return [new NetCheckTarget(kind, name, new IPEndPoint(literal, server.Port))];
        }

        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(server.Host, cancellationToken).ConfigureAwait(false);

            // One address per family: the one a node would use, and the IPv6 reachability question.
            var found = new List<NetCheckTarget>();
            foreach (AddressFamily family in (ReadOnlySpan<AddressFamily>)[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
            {
                if (Array.Find(addresses, a => a.AddressFamily == family) is { } address)
                {
                    found.Add(new NetCheckTarget(kind, name, new IPEndPoint(address, server.Port)));
                }
            }

            return found.Count > 0 ? found : [new NetCheckTarget(kind, name, null) { Error = "the name has no IPv4 or IPv6 address" }];
        }
        catch (SocketException e)
        {
            return [new NetCheckTarget(kind, name, null) { Error = $"cannot resolve {server.Host}: {e.Message}" }];
        }
    }

    private static HashSet<IPAddress> LocalAddresses()
    {
        var local = new HashSet<IPAddress>();
        try
        {
            foreach (System.Net.NetworkInformation.NetworkInterface nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (System.Net.NetworkInformation.UnicastIPAddressInformation a in nic.GetIPProperties().UnicastAddresses)
                {
                    local.Add(a.Address);
                }
            }
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
            // Without the list "no NAT" cannot be told from a cone NAT; the mapping comparison still works.
        }

        return local;
    }
}

/// <summary>One server address being asked, and what came back.</summary>
internal sealed class NetCheckTarget(string kind, string server, IPEndPoint? address)
{
    public string Kind { get; } = kind;

    public string Server { get; } = server;

    public IPEndPoint? Address { get; } = address;

    public TimeSpan? RoundTrip { get; set; }

    public IPEndPoint? Mapped { get; set; }

    public string? Error { get; set; }

    /// <summary>Set when any answer arrived (TURN's 401 is an answer).</summary>
    public TaskCompletionSource Answered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
