using System.Diagnostics;
using System.Globalization;
using System.Net;
using Ipop.Testing;

namespace Ipop.Controllers.Tests.SocialVpn;

/// <summary>
/// Issue 16: SocialVPN at social-network scale, in process. A roster of 1,000 friends, of which 200 online (running
/// SocialVPN) and 10 active: exactly the 10 active friends are linked, every friend has its own address in the
/// view, and signaling carries a bounded number of messages.
/// </summary>
public sealed class SocialVpnScaleTests(ITestOutputHelper output) : IAsyncDisposable
{
    private const int Friends = 1000;
    private const int Online = 200;
    private const int Active = 10;
    private readonly SocialCluster _cluster = new();

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();

    [Fact]
    public async Task A_roster_of_1000_friends_200_online_10_active_has_exactly_10_links()
    {
        var clock = Stopwatch.StartNew();
        InMemorySignaling mine = _cluster.CreateSignaling("me");
        string[] names = [.. Enumerable.Range(0, Friends).Select(i => string.Create(CultureInfo.InvariantCulture, $"f{i:d4}"))];
        InMemorySignaling[] friends = [.. names.Select(n => _cluster.CreateSignaling(n, "me"))];
        SocialCluster.Node me = await _cluster.StartAsync(mine, string.Empty, o => o.LinkIdleSeconds = 60); // the default pool
        foreach (string n in names)
        {
            await mine.RequestFriendshipAsync(n + "@lab.test", CancellationToken.None);
        }

        // 200 friends run SocialVPN; the other 800 were online once (so the roster knows their devices) and left.
        var online = new List<SocialCluster.Node>();
        for (int i = 0; i < Friends; i++)
        {
            if (i < Online)
            {
                online.Add(await _cluster.StartAsync(friends[i], "198.19.200.0/24"));
            }
            else
            {
                await friends[i].ConnectAsync(CancellationToken.None);
            }
        }

        await _cluster.SettleAsync();
        for (int i = Online; i < Friends; i++)
        {
            friends[i].SimulateDisconnect("went offline");
        }

        await _cluster.SettleAsync();
        TimeSpan startup = clock.Elapsed;
        long startupMessages = _cluster.Messages;

        // Every friend device has its own address in my view, all in my pool, none twice.
        IReadOnlyDictionary<string, IPAddress> book = me.Controller.Book!.Entries;
        Assert.Equal(Friends, book.Count);
        Assert.Equal(Friends, book.Values.Distinct().Count());
        Assert.True(me.Controller.Pool!.Value.PrefixLength <= 20, $"the default pool {me.Controller.Pool} is smaller than a /20");
        Assert.All(book.Values, a => Assert.True(me.Controller.Pool!.Value.Contains(a) && !a.Equals(me.Controller.Address!.Value.Address)));
        Assert.Equal(Online, me.Controller.GetFriends().Count);
        Assert.Empty(me.Tincan.Links);
        Assert.Equal(0, startupMessages);

        // 10 friends get traffic: exactly 10 links, each carrying its held first packet.
        clock.Restart();
        SocialCluster.Node[] active = [.. online.Take(Active)];
        foreach (SocialCluster.Node f in active)
        {
            Assert.Equal(RouteAction.Drop, _cluster.Ping(me, f).Action);
        }

        await _cluster.SettleAsync();
        TimeSpan linking = clock.Elapsed;
        long linkMessages = _cluster.Messages - startupMessages;
        Assert.Equal(Active, me.Tincan.Links.Count);
        Assert.All(active, f => Assert.True(_cluster.Tincans.AreLinked(me.Id, f.Id)));
        Assert.All(active, f => Assert.Equal(1, me.LinkTo(f)!.SentPackets));
        Assert.Equal(Active, _cluster.Tincans.Nodes.Sum(n => n.Links.Count) / 2); // nobody else linked anything
        Assert.InRange(linkMessages, 2 * Active, 4 * Active);

        // Five keep talking for two minutes, five fall silent: those are released, the others stay.
        await _cluster.SecondsAsync(120, () =>
        {
            foreach (SocialCluster.Node f in active.Take(5))
            {
                _cluster.Ping(me, f, 2);
            }
        });
        Assert.Equal(5, me.Tincan.Links.Count);
        Assert.All(active.Take(5), f => Assert.True(_cluster.Tincans.AreLinked(me.Id, f.Id)));
        Assert.Equal(5, me.Controller.Reaped);
        long total = _cluster.Messages;
        Assert.InRange(total - startupMessages, 2 * Active, 6 * Active);

        output.WriteLine($"roster {Friends}, online {Online}, active {Active}: startup {startup.TotalSeconds:F1} s wall, {startupMessages} messages; " +
            $"10 links in {linking.TotalMilliseconds:F0} ms wall, {linkMessages} messages; after 2 min with 5 idle: {me.Tincan.Links.Count} links, {total} messages in all; pool {me.Controller.Pool}");
    }
}
