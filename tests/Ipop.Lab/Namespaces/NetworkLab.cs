using System.Collections.Concurrent;
using System.Globalization;

namespace Ipop.Lab.Namespaces;

/// <summary>
/// A small internet in network namespaces: switches (bridges), hosts, NAT boxes and processes in them.
/// Names carry the process id and a sequence number so parallel runs never collide; everything is
/// removed on <see cref="Dispose"/>, and on process exit if a test never got there.
/// Only 198.18.0.0/15 and 2001:2::/48 are used (see TESTING.md).
/// </summary>
public sealed class NetworkLab : IDisposable
{
    /// <summary>Every lab namespace name starts with this, so <c>scripts/lab-cleanup.sh</c> can find leftovers.</summary>
    public const string NamePrefix = "ipl";

    private static readonly ConcurrentDictionary<NetworkLab, byte> Live = new();
    private static int s_sequence;
    private readonly List<LabNamespace> _namespaces = [];
    private readonly List<LabProcess> _processes = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    static NetworkLab()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (NetworkLab lab in Live.Keys)
            {
                lab.Dispose();
            }
        };
    }

    /// <summary>Creates an empty lab.</summary>
    public NetworkLab()
    {
        int seq = Interlocked.Increment(ref s_sequence);
        Id = string.Create(CultureInfo.InvariantCulture, $"{NamePrefix}{Environment.ProcessId}x{seq}");
        Live[this] = 0;
    }

    /// <summary>The unique name stem of this lab's namespaces.</summary>
    public string Id { get; }

    /// <summary>Creates a namespace with loopback up.</summary>
    public LabNamespace AddNamespace(string role)
    {
        var ns = new LabNamespace($"{Id}-{role}", role);
        Cmd.Run("ip", "netns", "add", ns.Name);
        lock (_lock)
        {
            _namespaces.Add(ns);
        }

        ns.Exec("ip", "link", "set", "lo", "up");
        // No IPv6 duplicate address detection delay: addresses must work the moment a test assigns them.
        ns.TryExec(TimeSpan.FromSeconds(5), "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0");
        return ns;
    }

    /// <summary>Creates a switch: a namespace holding a bridge <c>br0</c>.</summary>
    public LabSegment AddSegment(string role, string prefix)
    {
        LabNamespace owner = AddNamespace(role);
        owner.Exec("ip", "link", "add", "br0", "type", "bridge");
        owner.Exec("ip", "link", "set", "br0", "up");
        return new LabSegment(owner, prefix);
    }

    /// <summary>Connects <paramref name="host"/> to <paramref name="segment"/> with a veth pair and assigns addresses.</summary>
    /// <param name="host">The namespace to attach.</param>
    /// <param name="segment">The switch.</param>
    /// <param name="interfaceName">The interface name inside <paramref name="host"/> (e.g. <c>eth0</c>).</param>
    /// <param name="addresses">Addresses with prefix, e.g. <c>198.18.0.10/24</c>, <c>2001:2::10/64</c>.</param>
    public void Connect(LabNamespace host, LabSegment segment, string interfaceName, params string[] addresses)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(segment);
        string port = string.Create(CultureInfo.InvariantCulture, $"p{segment.NextPort++}");
        Cmd.Run("ip", "link", "add", interfaceName, "netns", host.Name, "type", "veth", "peer", "name", port, "netns", segment.Owner.Name);
        segment.Owner.Exec("ip", "link", "set", port, "master", "br0", "up");
        foreach (string a in addresses)
        {
            host.Exec("ip", "addr", "add", a, "dev", interfaceName);
        }

        host.Exec("ip", "link", "set", interfaceName, "up");
    }

    /// <summary>Connects two namespaces back to back with a veth pair.</summary>
    public void ConnectDirect(LabNamespace a, string interfaceA, string addressA, LabNamespace b, string interfaceB, string addressB)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        Cmd.Run("ip", "link", "add", interfaceA, "netns", a.Name, "type", "veth", "peer", "name", interfaceB, "netns", b.Name);
        a.Exec("ip", "addr", "add", addressA, "dev", interfaceA);
        b.Exec("ip", "addr", "add", addressB, "dev", interfaceB);
        a.Exec("ip", "link", "set", interfaceA, "up");
        b.Exec("ip", "link", "set", interfaceB, "up");
    }

    /// <summary>
    /// Builds a NAT box between <paramref name="wan"/> (address <paramref name="wanAddress"/>) and a new
    /// LAN segment with prefix <paramref name="lanPrefix"/>; the box takes <paramref name="lanGateway"/>.
    /// </summary>
    public (LabNamespace Router, LabSegment Lan) AddNatRouter(string role, LabSegment wan, string wanAddress, string? wanGateway, string lanPrefix, string lanGateway, NatKind kind)
    {
        LabNamespace router = AddNamespace(role);
        LabSegment lan = AddSegment(role + "lan", lanPrefix);
        Connect(router, wan, "wan", wanAddress);
        Connect(router, lan, "lan", lanGateway);
        router.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
        if (wanGateway is not null)
        {
            router.Exec("ip", "route", "add", "default", "via", wanGateway);
        }

        string[] masquerade = kind == NatKind.Symmetric
            ? ["-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE", "--random-fully"]
            : ["-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"];
        router.Exec("iptables", masquerade);

        // Like every home router, the box itself drops unsolicited packets from the internet. Besides realism this
        // matters for hole punching: a dropped packet never gets a confirmed conntrack entry, whereas one delivered
        // locally (and answered with ICMP port unreachable) would leave an unreplied entry whose tuple collides with
        // the mapping the box's own host creates a moment later, forcing MASQUERADE to pick another port.
        router.Exec("iptables", "-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "NEW,INVALID", "-j", "DROP");
        if (kind == NatKind.ConeFiltered)
        {
            router.Exec("iptables", "-A", "FORWARD", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
            router.Exec("iptables", "-A", "FORWARD", "-i", "wan", "-j", "DROP");
        }

        return (router, lan);
    }

    /// <summary>Starts a long-running process inside <paramref name="ns"/>; it is stopped when the lab is disposed.</summary>
    public LabProcess Start(LabNamespace ns, string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(ns);
        var process = LabProcess.Start(ns, file, args, environment);
        lock (_lock)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>Stops every process and deletes every namespace (with the devices in them).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        foreach (LabProcess p in _processes)
        {
            p.Dispose();
        }

        foreach (LabNamespace ns in Enumerable.Reverse(_namespaces))
        {
            // Processes started with plain 'ip netns exec' outside LabProcess (iperf3 -D) must not keep the namespace alive.
            Cmd.TryRun(TimeSpan.FromSeconds(5), "sh", "-c", $"ip netns pids {ns.Name} | xargs -r kill -9");
            Cmd.TryRun(TimeSpan.FromSeconds(10), "ip", "netns", "del", ns.Name);
        }

        Live.TryRemove(this, out _);
    }
}
