using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// GroupVPN nodes for the reliability scenarios: an owner account that creates the members-only room and adds
/// the members with the real <c>groupvpn members add</c> CLI, and member hosts whose links are read from their
/// status sockets.
/// </summary>
internal sealed class GroupLab(OverlayLabFixture lab, string groupStem) : IDisposable
{
    private readonly List<ProductNode> _nodes = [];
    private readonly Dictionary<string, LabNamespace> _owners = [];
    private int _groups;

    public IReadOnlyList<ProductNode> Nodes => _nodes;

    /// <summary>A fresh group (room) name.</summary>
    public string NewGroup() => $"{groupStem}{Environment.ProcessId}x{Interlocked.Increment(ref _groups)}@{lab.Xmpp.MucDomain}";

    /// <summary>
    /// A member host (not started) with a static address in 198.19.0.0/24; on <paramref name="reuse"/>'s namespace
    /// and account when given (a node that joins another group), else on a new host and account.
    /// </summary>
    public async Task<ProductNode> NodeAsync(string user, string where, string group, string address, ProductNode? reuse = null)
    {
        LabNamespace ns;
        if (reuse is null)
        {
            await lab.RegisterAsync(user);
            ns = lab.Host(user, where);
        }
        else
        {
            ns = reuse.Namespace;
        }

        string dir = Path.Combine(lab.Directory, user);
        Directory.CreateDirectory(dir);
        var node = new ProductNode(lab.Lab, ns, "groupvpn", dir, Config(user, dir, group, address));
        _nodes.Add(node);
        return node;
    }

    public object Config(string user, string dir, string group, string address) => new
    {
        Xmpp = lab.XmppSection(user),
        Tincan = OverlayLabFixture.TincanSection(Path.Combine(dir, "node.key")),
        // The reliability labs measure the full mesh (32 members started at once converge to 496 links); with the default
        // "auto", a group above 16 members would be structured (its own lab: GroupVpn/GroupVpnScaleTests).
        GroupVpn = new { Group = group, Subnet = "198.19.0.0/24", Address = address, InterfaceName = "ipop0", LinkRetryMaxSeconds = 5, Topology = "mesh" },
        Status = new { SocketPath = Path.Combine(dir, "status.sock") },
    };

    /// <summary>The group's owner creates the room and adds <paramref name="members"/> through the real CLI.</summary>
    public async Task AddMembersAsync(string owner, string group, IEnumerable<string> members)
    {
        if (!_owners.TryGetValue(owner, out LabNamespace? ns))
        {
            await lab.RegisterAsync(owner);
            ns = _owners[owner] = lab.Host(owner, "public");
        }

        string dir = Path.Combine(lab.Directory, owner);
        Directory.CreateDirectory(dir);
        var node = new ProductNode(lab.Lab, ns, "groupvpn", dir, Config(owner, dir, group, "198.19.0.254")); // never started
        CommandResult r = node.Members(["add", .. members.Select(m => $"{m}@{lab.Xmpp.Domain}")]);
        Assert.True(r.ExitCode == 0, $"groupvpn members add exited {r.ExitCode}:\n{r.StandardOutput}{r.StandardError}");
    }

    /// <summary>The node's peers and link states, read from its status socket (the JSON that <c>groupvpn status</c> renders).</summary>
    public static async Task<IReadOnlyList<(string Peer, string State, string Path)>> PeersAsync(ProductNode node)
    {
        using JsonDocument doc = await StatusAsync(node);
        return [.. doc.RootElement.GetProperty("peers").EnumerateArray().Select(p => (
            p.GetProperty("user").GetString()!,
            p.GetProperty("state").GetString()!,
            p.GetProperty("path").GetString()!))];
    }

    /// <summary>The node's full XMPP identity (user@domain/resource), from its status socket.</summary>
    public static async Task<string> NodeIdAsync(ProductNode node)
    {
        using JsonDocument doc = await StatusAsync(node);
        return doc.RootElement.GetProperty("node").GetString()!;
    }

    private static async Task<JsonDocument> StatusAsync(ProductNode node)
    {
        string socket = Path.Combine(Path.GetDirectoryName(node.ConfigPath)!, "status.sock");
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cts.Token);
        await using var stream = new NetworkStream(s, ownsSocket: false);

        // The status protocol (docs/cli.md): one JSON request line, one JSON answer line carrying the report.
        await stream.WriteAsync("{\"command\":\"status\"}\n"u8.ToArray(), cts.Token);
        using var reader = new StreamReader(stream);
        string line = await reader.ReadLineAsync(cts.Token) ?? throw new InvalidDataException($"{socket} closed without answering status");
        using JsonDocument answer = JsonDocument.Parse(line);
        return answer.RootElement.TryGetProperty("status", out JsonElement report)
            ? JsonDocument.Parse(report.GetRawText())
            : throw new InvalidDataException($"{socket} answered status without a report: {line}");
    }

    /// <summary>Waits until every node has a Connected link to each of the others; returns the time it took, or null.</summary>
    public async Task<TimeSpan?> ConvergeAsync(IReadOnlyList<ProductNode> nodes, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        var done = new HashSet<ProductNode>();
        while (clock.Elapsed < within)
        {
            foreach (ProductNode n in nodes.Where(n => !done.Contains(n)))
            {
                try
                {
                    if ((await PeersAsync(n)).Count(p => p.State == "Connected") >= nodes.Count - 1)
                    {
                        done.Add(n);
                    }
                }
                catch (Exception e) when (e is SocketException or IOException or JsonException or OperationCanceledException)
                {
                    // Not listening yet (still starting): ask again on the next round.
                }
            }

            if (done.Count == nodes.Count)
            {
                return clock.Elapsed;
            }

            await Task.Delay(500, TestContext.Current.CancellationToken);
        }

        return null;
    }

    public string Diagnose(IEnumerable<ProductNode>? nodes = null) =>
        string.Join("\n----\n", (nodes ?? _nodes).Select(n => n.Namespace.Role + ":\n" + n.Status() + "\n" + Tail(n.Process?.Output, 40)));

    private static string Tail(string? text, int lines) => text is null ? string.Empty : string.Join('\n', text.Split('\n').TakeLast(lines));

    public void Dispose()
    {
        foreach (ProductNode n in _nodes)
        {
            n.Dispose();
        }
    }
}
