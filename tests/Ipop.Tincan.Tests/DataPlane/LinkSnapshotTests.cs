using System.Net;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.Tests.DataPlane;

public sealed class LinkSnapshotTests
{
    [Fact]
    public async Task The_snapshot_follows_session_and_path_and_goes_when_the_link_closes()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await using TestNode c = await TestNode.StartAsync("C");

        // C never authorizes A: no session, no snapshot.
        var unconnected = (TincanLink)a.Tincan.CreateLink(c.Id, await c.DescriptorAsync());
        Assert.Null(unconnected.Snapshot);
        Assert.False(unconnected.IsConnected);

        await TestNode.ConnectAsync(a, b);
        var link = (TincanLink)a.LinkTo(b);
        LinkSnapshot? first = null;
        await TestNode.WaitUntilAsync(() => (first = link.Snapshot) is not null, "snapshot published");
        Assert.Same(link.Path, first!.Path);

        // Packets do not republish it.
        Assert.True(link.TrySend(TestNode.Packet(b, 1)));
        Assert.Same(first, link.Snapshot);

        // A new path: a new snapshot with the same session.
        var other = new DirectUdpPath(a.Manager.Mux!, a.Manager.Mux!.ToSocketAddress(new IPEndPoint(IPAddress.Loopback, 9))!);
        link.SetPath(other);
        LinkSnapshot second = link.Snapshot!;
        Assert.Same(other, second.Path);
        Assert.Same(first.Current, second.Current);

        Assert.True(a.Tincan.RemoveLink(b.Id));
        await TestNode.WaitUntilAsync(() => link.Snapshot is null, "snapshot withdrawn");
        Assert.False(link.IsConnected);
    }
}
