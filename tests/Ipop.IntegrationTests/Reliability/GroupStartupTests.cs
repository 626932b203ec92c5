using System.Globalization;
using Ipop.IntegrationTests.Infrastructure;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 11, "start is boring": 32 members of a new group started at the same moment all converge to a full mesh
/// (every node sees 31 connected links), three times over with fresh processes and a fresh room. This used to
/// lose the room-creation race (hosts exiting with item-not-found), and links stuck after a failed handshake.
/// </summary>
public sealed class GroupStartupTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private const int Members = 32;
    private readonly GroupLab _group = new(lab, "burst");

    public void Dispose() => _group.Dispose();

    [Fact]
    public async Task Thirty_two_members_started_at_once_converge_three_times()
    {
        // Hosts: most on the internet, a quarter behind the cone NAT (hole punching under load).
        string[] users = [.. Enumerable.Range(0, Members).Select(i => "b" + i.ToString("D2", CultureInfo.InvariantCulture))];
        var times = new List<double>();
        List<ProductNode>? previous = null;
        for (int round = 1; round <= 3; round++)
        {
            string group = _group.NewGroup();
            var nodes = new List<ProductNode>();
            for (int i = 0; i < Members; i++)
            {
                nodes.Add(await _group.NodeAsync(users[i], i % 4 == 3 ? "cone" : "public", group, $"198.19.0.{i + 1}", previous?[i]));
            }

            await _group.AddMembersAsync("bown", group, users);
            Parallel.ForEach(nodes, n => n.StartInBackground());
            TimeSpan? took = await _group.ConvergeAsync(nodes, TimeSpan.FromSeconds(150));
            Assert.True(took is not null, $"round {round}: no full mesh of {Members} within 150 s\n{_group.Diagnose(nodes.Take(4))}");
            foreach (ProductNode n in nodes)
            {
                Assert.False(n.Process!.HasExited, $"round {round}: {n.Namespace.Role} exited:\n{n.Process.Output}");
            }

            times.Add(took.Value.TotalSeconds);
            output.WriteLine($"round {round}: full mesh of {Members} ({Members * (Members - 1) / 2} links) after {took.Value.TotalSeconds:F1} s");
            string[] stuck = [.. nodes.AsParallel().Where(n => !n.Stop()).Select(n => n.Namespace.Role)];
            Assert.True(stuck.Length == 0, $"round {round}: did not exit on SIGTERM: {string.Join(' ', stuck)}");

            previous = nodes;
        }

        output.WriteLine($"converged in {string.Join(", ", times.Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))} s");
    }
}
