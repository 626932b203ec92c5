using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane;

public sealed class LinkManagerTests
{
    [Fact]
    public async Task CreateLink_refuses_our_own_key_and_a_key_owned_by_another_peer()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        LinkDescriptor self = await a.DescriptorAsync();
        Assert.Throws<ArgumentException>(() => a.Tincan.CreateLink(new PeerId("me"), self));

        LinkDescriptor db = await b.DescriptorAsync();
        a.Tincan.CreateLink(b.Id, db);
        var e = Assert.Throws<InvalidOperationException>(() => a.Tincan.CreateLink(new PeerId("impostor"), db));
        Assert.Contains("already authorized for peer 'B'", e.Message, StringComparison.Ordinal);

        // Same peer, same key: the existing link is reused (and restarted), not duplicated.
        Assert.Same(a.LinkTo(b), a.Tincan.CreateLink(b.Id, db));
        Assert.Single(a.Tincan.Links);
    }

    [Fact]
    public async Task New_key_for_a_known_peer_replaces_the_link_and_revokes_the_old_key()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await using TestNode b2 = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        ITincanLink old = a.LinkTo(b);

        // "B" restarted with a new key (b2): the controller hands A the new descriptor.
        ITincanLink fresh = a.Tincan.CreateLink(b2.Id, await b2.DescriptorAsync());
        b2.Tincan.CreateLink(a.Id, await a.DescriptorAsync());
        Assert.NotSame(old, fresh);
        await TestNode.WaitUntilAsync(() => old.Status.Reason == LinkFailureReason.Revoked, "old link revoked");
        await TestNode.WaitUntilAsync(() => fresh.Status.State == LinkState.Connected, "link to the new key");

        // The old key is no longer authorized.
        long unknown = a.Manager.Drops.Get(DropReason.UnknownKey);
        Assert.True(b.Tincan.RemoveLink(a.Id));
        b.Tincan.CreateLink(a.Id, await a.DescriptorAsync());
        await TestNode.WaitUntilAsync(() => a.Manager.Drops.Get(DropReason.UnknownKey) > unknown, "old key refused");
    }

    [Fact]
    public async Task Descriptor_needs_a_started_node_and_lists_the_bound_port()
    {
        await using ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken));
        await tincan.StartAsync(TestContext.Current.CancellationToken);
        LinkDescriptor d = await tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
        Candidate c = Assert.Single(d.Candidates);
        Assert.Equal(IPAddress.Loopback, c.EndPoint.Address);
        Assert.Equal(((LinkManager)tincan).Mux!.LocalEndPoint.Port, c.EndPoint.Port);
        Assert.Equal(tincan.LocalKey, d.Key);

        // The descriptor survives the signaling encoding.
        Assert.Equal(d.Candidates[0], LinkDescriptor.Parse(d.ToJson()).Candidates[0]);
    }

    [Fact]
    public async Task Port_in_use_fails_start_with_a_message_naming_the_setting()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        await using ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1", ListenPort = port });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => tincan.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains($"127.0.0.1:{port} (Tincan:ListenAddress, Tincan:ListenPort): AddressAlreadyInUse", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Link_created_before_start_connects_once_started()
    {
        await using TestNode b = await TestNode.StartAsync("B");
        await using ITincan a = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        ITincanLink link = a.CreateLink(b.Id, await b.DescriptorAsync());
        Assert.Equal(LinkState.Connecting, link.Status.State);
        await a.StartAsync(TestContext.Current.CancellationToken);
        b.Tincan.CreateLink(new PeerId("A"), await a.GetLocalDescriptorAsync(TestContext.Current.CancellationToken));
        await TestNode.WaitUntilAsync(() => link.Status.State == LinkState.Connected, "connected after start");
    }

    [Fact]
    public void Socket_buffers_are_forced_past_the_sysctl_limit_when_privileged()
    {
        using var mux = new UdpMux(IPAddress.Loopback, 0, 4 * 1024 * 1024, new DropCounters(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Assert.SkipUnless(Environment.UserName == "root", "SO_RCVBUFFORCE needs CAP_NET_ADMIN");
        Assert.True(mux.ReceiveBufferSize >= 4 * 1024 * 1024, $"receive buffer {mux.ReceiveBufferSize}");
        Assert.True(mux.SendBufferSize >= 4 * 1024 * 1024, $"send buffer {mux.SendBufferSize}");
    }

    [Fact]
    public void Socket_addresses_follow_the_socket_family()
    {
        var drops = new DropCounters();
        using var v4 = new UdpMux(IPAddress.Loopback, 0, 65536, drops, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Assert.Equal(AddressFamily.InterNetwork, v4.ToSocketAddress(new IPEndPoint(IPAddress.Loopback, 5))!.Family);
        Assert.Equal(AddressFamily.InterNetwork, v4.ToSocketAddress(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 5))!.Family);
        Assert.Null(v4.ToSocketAddress(new IPEndPoint(IPAddress.Parse("2001:2::1"), 5)));

        using var dual = new UdpMux(IPAddress.Any, 0, 65536, drops, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        SocketAddress mapped = dual.ToSocketAddress(new IPEndPoint(IPAddress.Loopback, 5))!;
        Assert.Equal(AddressFamily.InterNetworkV6, mapped.Family);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 5), UdpMux.ToEndPoint(mapped));
    }
}
