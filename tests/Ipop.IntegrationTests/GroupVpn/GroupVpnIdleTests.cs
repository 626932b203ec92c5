using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.GroupVpn;

/// <summary>
/// Issue 14, idle at zero, for a whole <c>groupvpn</c> process: two members with one idle link, a real prosody, and
/// the process's voluntary context switches (every thread's, from /proc) over 60 s of no traffic. The negotiator's
/// old 1 s tick alone cost about seven a second (its timer thread, the pool thread that ran the loop, the channel's
/// wakeups); what remains are real deadlines (the link's keepalive, the XMPP keepalive) and the runtime's own.
/// </summary>
public sealed class GroupVpnIdleTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(60);
    private readonly List<ProductNode> _nodes = [];

    public void Dispose()
    {
        foreach (ProductNode n in _nodes)
        {
            n.Dispose();
        }
    }

    private async Task<ProductNode> NodeAsync(string user, string group, string address)
    {
        await lab.RegisterAsync(user);
        LabNamespace ns = lab.Host(user, "public");
        string dir = Path.Combine(lab.Directory, user);
        Directory.CreateDirectory(dir);
        var node = new ProductNode(lab.Lab, ns, "groupvpn", dir, new
        {
            Xmpp = lab.XmppSection(user),
            Tincan = OverlayLabFixture.TincanSection(Path.Combine(dir, "node.key")),
            GroupVpn = new { Group = group, Subnet = "198.19.0.0/24", Address = address, Mode = "tun", InterfaceName = "ipop0" },
            Status = new { SocketPath = Path.Combine(dir, "status.sock") },
        });
        _nodes.Add(node);
        return node;
    }

    /// <summary>Voluntary context switches of every thread of <paramref name="pid"/> now.</summary>
    private static long VoluntarySwitches(int pid)
    {
        long sum = 0;
        foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                foreach (string line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        sum += long.Parse(line.AsSpan("voluntary_ctxt_switches:".Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // A thread that ended meanwhile.
            }
        }

        return sum;
    }

    [Fact]
    public async Task A_member_with_one_idle_link_sleeps_between_real_deadlines()
    {
        string group = $"idle{Environment.ProcessId}@{lab.Xmpp.MucDomain}";
        ProductNode a = await NodeAsync("gidle1", group, "198.19.0.1");
        ProductNode b = await NodeAsync("gidle2", group, "198.19.0.2");
        CommandResult made = a.Members("add", $"gidle2@{lab.Xmpp.Domain}");
        Assert.True(made.ExitCode == 0, made.StandardOutput + made.StandardError);
        await a.StartAsync("GroupVPN");
        await b.StartAsync("GroupVPN");
        bool up = false;
        for (int i = 0; i < 60 && !up; i++)
        {
            up = a.Namespace.Ping("198.19.0.2", count: 1, intervalSeconds: 0.2, deadlineSeconds: 1);
        }

        Assert.True(up, a.Status() + a.Process!.Output);
        await Task.Delay(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken); // start-up work (JIT, GC) settles

        int pid = a.Process!.Id;
        long before = VoluntarySwitches(pid);
        await Task.Delay(Window, TestContext.Current.CancellationToken);
        long switches = VoluntarySwitches(pid) - before;
        output.WriteLine($"groupvpn ({(Artifacts.GroupVpnHost.IsNative ? "AOT" : "JIT")}), 1 idle link: {switches} voluntary context switches in {Window.TotalSeconds:0} s");

        // Measured (JIT, 2 cores at load average 19): 238 and 273 with the deadline timer; 655 and 737 with the old 1 s
        // tick (the same build with the previous Ipop.Controllers.dll). The bound fails with the tick and holds with
        // 1.6x margin without it.
        Assert.InRange(switches, 0, 450);
        Assert.True(a.Namespace.Ping("198.19.0.2", count: 1, deadlineSeconds: 5), "the idle link no longer carries a ping");
    }
}
