using Ipop.Tincan.DataPlane;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.DataPlane.Link;

/// <summary>
/// Issue 14: an idle node must not wake up. Real nodes on 127.0.0.1 with a fake clock: after the link settled, a
/// simulated minute without traffic is counted in wakeups of the node's deadline timer.
/// </summary>
public sealed class IdleWakeupTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task An_idle_link_wakes_its_node_about_once_per_keepalive_interval_and_keeps_sending_keepalives()
    {
        var time = new FakeTimeProvider(Start);
        await using TestNode a = await TestNode.StartAsync("A", time);
        await using TestNode b = await TestNode.StartAsync("B", time);
        await TestNode.ConnectAsync(a, b);
        await SettleAsync(time);

        long wakeupsA = a.Manager.Deadlines.Wakeups;
        long wakeupsB = b.Manager.Deadlines.Wakeups;
        long receivedByB = ReceivedTicks(b, a);
        await AdvanceAsync(time, TimeSpan.FromMinutes(1));

        // The 100 ms tick woke each node 600 times a minute. Now: one keepalive per 10 s interval (6), and a margin of
        // a few for a wakeup that found its deadline moved by the peer's keepalive and re-armed.
        long perMinuteA = a.Manager.Deadlines.Wakeups - wakeupsA;
        long perMinuteB = b.Manager.Deadlines.Wakeups - wakeupsB;
        TestContext.Current.TestOutputHelper?.WriteLine($"wakeups in an idle minute: A {perMinuteA}, B {perMinuteB}");
        Assert.True(perMinuteA <= 9, $"A woke {perMinuteA} times in an idle minute");
        Assert.True(perMinuteB <= 9, $"B woke {perMinuteB} times in an idle minute");

        // Still alive: the keepalives (and with them the NAT bindings and dead-peer detection) continue.
        Assert.True(perMinuteA >= 5, $"A woke only {perMinuteA} times: no keepalives?");
        Assert.True(ReceivedTicks(b, a) > receivedByB, "B heard nothing from A in an idle minute");
        Assert.Equal(LinkState.Connected, a.LinkTo(b).Status.State);
        Assert.Equal(LinkState.Connected, b.LinkTo(a).Status.State);
    }

    [Fact]
    public async Task The_idle_links_of_a_node_share_their_wakeups()
    {
        var time = new FakeTimeProvider(Start);
        await using TestNode hub = await TestNode.StartAsync("H", time);
        var spokes = new List<TestNode>();
        try
        {
            foreach (string name in new[] { "P", "Q", "R", "S" })
            {
                TestNode spoke = await TestNode.StartAsync(name, time);
                spokes.Add(spoke);
                await TestNode.ConnectAsync(hub, spoke);

                // Links created a second apart: their keepalive deadlines start apart too.
                await AdvanceAsync(time, TimeSpan.FromSeconds(1));
            }

            await SettleAsync(time);
            long wakeups = hub.Manager.Deadlines.Wakeups;
            await AdvanceAsync(time, TimeSpan.FromMinutes(1));

            // Four links with their own keepalive each would wake the hub 24 times a minute; sent together when one is
            // due (within an eighth of the interval, 1.25 s), links created 1 s apart line up in pairs: 12 measured.
            long perMinute = hub.Manager.Deadlines.Wakeups - wakeups;
            TestContext.Current.TestOutputHelper?.WriteLine($"hub wakeups in an idle minute with {spokes.Count} links: {perMinute}");
            Assert.True(perMinute <= 16, $"the hub woke {perMinute} times in an idle minute with {spokes.Count} links");
            Assert.All(spokes, s => Assert.Equal(LinkState.Connected, hub.LinkTo(s).Status.State));
        }
        finally
        {
            foreach (TestNode spoke in spokes)
            {
                await spoke.DisposeAsync();
            }
        }
    }

    private static long ReceivedTicks(TestNode at, TestNode from) => at.LinkTo(from).GetStats().LastReceived?.UtcTicks ?? 0;

    // Past the first seconds of a link (its path MTU search, the first keepalives), which are not idle.
    private static Task SettleAsync(FakeTimeProvider time) => AdvanceAsync(time, TimeSpan.FromSeconds(20));

    // Fake time in 100 ms steps, each with a little real time for the sockets to carry what the timers sent.
    private static async Task AdvanceAsync(FakeTimeProvider time, TimeSpan span)
    {
        for (TimeSpan moved = TimeSpan.Zero; moved < span; moved += TimeSpan.FromMilliseconds(100))
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(2, TestContext.Current.CancellationToken);
        }
    }
}
