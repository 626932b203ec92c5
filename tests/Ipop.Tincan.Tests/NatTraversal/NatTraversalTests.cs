using System.Net;
using System.Net.Sockets;
using Ipop.Lab.Servers;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.Tests.NatTraversal;

/// <summary>Gathering, relayed links and the relay-to-direct upgrade between real nodes and a real coturn on 127.0.0.1.</summary>
public sealed class NatTraversalTests
{
    private static CancellationToken Timeout(int seconds = 20)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        source.CancelAfter(TimeSpan.FromSeconds(seconds));
        return source.Token;
    }

    private static Task<CoturnServer> CoturnAsync() => CoturnServer.StartAsync(cancellationToken: Timeout());

    private static Action<TincanOptions> With(CoturnServer coturn, string password = "p") => o =>
    {
        o.StunServers.Add(new StunServerOptions { Host = coturn.EndPoint.Address.ToString(), Port = coturn.EndPoint.Port });
        o.TurnServers.Add(NatNode.Turn(coturn, password: password));
    };

    private static async Task ConnectAsync(NatNode a, LinkDescriptor ofB, NatNode b, LinkDescriptor ofA)
    {
        a.Tincan.CreateLink(b.Id, ofB);
        b.Tincan.CreateLink(a.Id, ofA);
        await NatNode.WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected && b.LinkTo(a).Status.State == LinkState.Connected, $"{a.Name}<->{b.Name} connected");
    }

    private static long RelayedDatagrams(params NatNode[] nodes) =>
        nodes.Sum(n => n.Manager.Nat!.Allocation is { } a ? a.ChannelDataReceived + a.DataIndicationsReceived : 0);

    private static async Task<long> SettledAsync(Func<long> read)
    {
        long value = read();
        int stable = 0;
        for (int i = 0; i < 20 && stable < 2; i++)
        {
            await Task.Delay(400, TestContext.Current.CancellationToken);
            long now = read();
            stable = now == value ? stable + 1 : 0;
            value = now;
        }

        return value;
    }

    // Both sides initiate when both create the link; an initiation the peer dropped (it had not authorized our key
    // yet) is retried one handshake timeout (300 ms) later and completes a second handshake: wait past that.
    private static async Task<long> SettledHandshakesAsync(ITincanLink link)
    {
        long handshakes = link.GetStats().Handshakes;
        for (int i = 0; i < 10; i++)
        {
            await Task.Delay(1000, TestContext.Current.CancellationToken);
            long now = link.GetStats().Handshakes;
            if (now == handshakes)
            {
                return now;
            }

            handshakes = now;
        }

        return handshakes;
    }

    [Fact]
    public async Task Descriptor_holds_host_server_reflexive_and_relayed_candidates_with_RFC_8445_priorities()
    {
        using CoturnServer coturn = await CoturnAsync();
        // On the any address the host candidates are the machine's interface addresses, so the mapping coturn
        // sees on loopback is a distinct (non-redundant) server-reflexive candidate. No traffic goes to them.
        await using NatNode a = await NatNode.StartAsync("A", o =>
        {
            With(coturn)(o);
            o.ListenAddress = "0.0.0.0";
        });

        LinkDescriptor d = await a.DescriptorAsync();
        int port = a.LocalEndPoint.Port;

        Assert.Contains(d.Candidates, c => c.Type == CandidateType.Host);
        Assert.All(d.Candidates.Where(c => c.Type == CandidateType.Host), c => Assert.Null(c.Server));
        Candidate srflx = Assert.Single(d.Candidates, c => c.Type == CandidateType.ServerReflexive);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), srflx.EndPoint);
        Assert.Equal(coturn.EndPoint.ToString(), srflx.Server);
        Assert.Equal(Candidate.ComputePriority(CandidateType.ServerReflexive, 65535), srflx.Priority);
        Candidate relay = Assert.Single(d.Candidates, c => c.Type == CandidateType.Relayed);
        Assert.Equal(IPAddress.Loopback, relay.EndPoint.Address);
        Assert.InRange(relay.EndPoint.Port, coturn.MinRelayPort, coturn.MaxRelayPort);
        Assert.Equal(coturn.EndPoint.ToString(), relay.Server);
        Assert.Equal(Candidate.ComputePriority(CandidateType.Relayed, 65535), relay.Priority);

        // Type preference dominates (RFC 8445 section 5.1.2.2): every host above srflx above relay.
        Assert.True(d.Candidates.Where(c => c.Type == CandidateType.Host).Min(c => c.Priority) > srflx.Priority);
        Assert.True(srflx.Priority > relay.Priority);

        // The descriptor survives signaling.
        Assert.Equal(d.Candidates, LinkDescriptor.Parse(d.ToJson()).Candidates);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task With_only_relayed_candidates_the_link_connects_through_coturn_and_carries_packets_both_ways(bool channels)
    {
        using CoturnServer coturn = await CoturnAsync();
        await using NatNode a = await NatNode.StartAsync("A", With(coturn));
        await using NatNode b = await NatNode.StartAsync("B", With(coturn));

        // Without channels every relayed datagram is a Send indication (RFC 8656 section 11) out, Data indication in.
        a.Manager.Nat!.UseChannels = channels;
        b.Manager.Nat!.UseChannels = channels;
        LinkDescriptor relayOfA = await a.DescriptorWithOnlyAsync(CandidateType.Relayed);
        LinkDescriptor relayOfB = await b.DescriptorWithOnlyAsync(CandidateType.Relayed);

        await ConnectAsync(a, relayOfB, b, relayOfA);

        Assert.Equal(LinkPath.Relayed, a.LinkTo(b).Status.Path);
        Assert.Equal(LinkPath.Relayed, b.LinkTo(a).Status.Path);
        long relayedBefore = RelayedDatagrams(a, b);
        NatNode.AssertTrafficBothWays(a, b, 40);
        // Each way crosses coturn once: into one side's allocation (counted there) and out of the other's relayed
        // address (a relayed path or a path to the peer's relayed candidate).
        Assert.True(RelayedDatagrams(a, b) >= relayedBefore + 40, $"packets crossed coturn ({RelayedDatagrams(a, b) - relayedBefore} relayed)");
        foreach (ILinkPath path in new[] { a.LinkTo(b).Path!, b.LinkTo(a).Path! })
        {
            Assert.True(path is RelayedPath || path.RemoteEndPoint!.Port >= coturn.MinRelayPort && path.RemoteEndPoint.Port <= coturn.MaxRelayPort, path.ToString());
        }

        LinkStats stats = a.LinkTo(b).GetStats();
        Assert.Equal(40, stats.PacketsReceived);
        Assert.NotNull(stats.RemoteCandidate);
        Assert.NotNull(stats.LocalCandidate);
        Assert.True(stats.RemoteCandidate.Type == CandidateType.Relayed || stats.LocalCandidate.Type == CandidateType.Relayed, $"{stats.LocalCandidate} <-> {stats.RemoteCandidate}");
        Assert.True(a.Logger.Contains("connected over Relayed"), string.Join("\n", a.Logger.Messages));
        if (!channels)
        {
            Assert.Equal(0, a.Manager.Nat!.Allocation!.ChannelDataReceived + b.Manager.Nat!.Allocation!.ChannelDataReceived);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"relayed link: A connected after {a.LinkTo(b).TimeToConnect?.TotalMilliseconds:F0} ms, B after {b.LinkTo(a).TimeToConnect?.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Only_A_relay_known_to_B_and_B_host_known_to_A_connects()
    {
        using CoturnServer coturn = await CoturnAsync();
        await using NatNode a = await NatNode.StartAsync("A", With(coturn));
        await using NatNode b = await NatNode.StartAsync("B", With(coturn));
        LinkDescriptor relayOfA = await a.DescriptorWithOnlyAsync(CandidateType.Relayed);
        LinkDescriptor hostOfB = await b.DescriptorWithOnlyAsync(CandidateType.Host);

        await ConnectAsync(a, hostOfB, b, relayOfA);

        NatNode.AssertTrafficBothWays(a, b, 20);

        // Whichever answer came first, the direct path wins within a few probe intervals.
        await NatNode.WaitUntilAsync(() => a.LinkTo(b).Status.Path == LinkPath.DirectHost, "A on the direct path");
        NatNode.AssertTrafficBothWays(a, b, 20, firstSequence: 20);
        TestContext.Current.TestOutputHelper?.WriteLine($"direct link: A connected after {a.LinkTo(b).TimeToConnect?.TotalMilliseconds:F0} ms, B after {b.LinkTo(a).TimeToConnect?.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task A_dead_first_TURN_server_is_skipped_and_the_second_one_relays()
    {
        using CoturnServer coturn = await CoturnAsync();
        int deadPort = CoturnServer.FindFreeUdpPort(IPAddress.Loopback);
        Action<TincanOptions> configure = o =>
        {
            o.TurnServers.Add(new TurnServerOptions { Host = "127.0.0.1", Port = deadPort, Username = "u", Password = "p" });
            o.TurnServers.Add(NatNode.Turn(coturn));
        };
        await using NatNode a = await NatNode.StartAsync("A", configure);
        await using NatNode b = await NatNode.StartAsync("B", configure);

        LinkDescriptor relayOfA = await a.DescriptorWithOnlyAsync(CandidateType.Relayed);
        LinkDescriptor relayOfB = await b.DescriptorWithOnlyAsync(CandidateType.Relayed);

        Assert.Equal(coturn.EndPoint.ToString(), relayOfA.Candidates[0].Server);
        Assert.True(a.Logger.Contains($"127.0.0.1:{deadPort} unusable"), string.Join("\n", a.Logger.Messages));
        await ConnectAsync(a, relayOfB, b, relayOfA);
        NatNode.AssertTrafficBothWays(a, b, 10);
        Assert.Equal(LinkPath.Relayed, a.LinkTo(b).Status.Path);
    }

    [Fact]
    public async Task Wrong_TURN_password_everywhere_and_no_working_direct_candidate_fails_with_TurnAuthenticationFailed()
    {
        using CoturnServer coturn = await CoturnAsync();
        await using NatNode a = await NatNode.StartAsync("A", o =>
        {
            With(coturn, password: "wrong-s3cret")(o);
            o.HandshakeAttempts = 3;
        });
        await using NatNode b = await NatNode.StartAsync("B");
        LinkDescriptor ofA = await a.DescriptorAsync();
        Assert.DoesNotContain(ofA.Candidates, c => c.Type == CandidateType.Relayed);

        // B's only candidate is a port nobody listens on: without a relay there is no way to B.
        int deadPort = CoturnServer.FindFreeUdpPort(IPAddress.Loopback);
        LinkDescriptor ofB = (await b.DescriptorAsync()) with { Candidates = [new Candidate(CandidateType.Host, new IPEndPoint(IPAddress.Loopback, deadPort), 1, "dead")] };
        ITincanLink link = a.Tincan.CreateLink(b.Id, ofB);

        await NatNode.WaitUntilAsync(() => link.Status.State == LinkState.Failed, "link failed");
        Assert.Equal(LinkFailureReason.TurnAuthenticationFailed, link.Status.Reason);
        Assert.Contains(coturn.EndPoint.ToString(), link.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-s3cret", link.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(a.Logger.Messages, m => m.Contains("wrong-s3cret", StringComparison.Ordinal));

        // With no candidate at all the same node reports the credentials too, at once.
        LinkDescriptor empty = ofB with { Candidates = [] };
        a.Tincan.RemoveLink(b.Id);
        ITincanLink again = a.Tincan.CreateLink(b.Id, empty);
        Assert.Equal(LinkFailureReason.TurnAuthenticationFailed, again.Status.Reason);
    }

    [Fact]
    public async Task A_relayed_link_upgrades_to_direct_when_the_full_descriptors_arrive_and_traffic_keeps_flowing()
    {
        using CoturnServer coturn = await CoturnAsync();
        await using NatNode a = await NatNode.StartAsync("A", With(coturn));
        await using NatNode b = await NatNode.StartAsync("B", With(coturn));
        await ConnectAsync(a, await b.DescriptorWithOnlyAsync(CandidateType.Relayed), b, await a.DescriptorWithOnlyAsync(CandidateType.Relayed));
        Assert.Equal(LinkPath.Relayed, a.LinkTo(b).Status.Path);
        NatNode.AssertTrafficBothWays(a, b, 10);

        var changes = new System.Collections.Concurrent.ConcurrentQueue<LinkStatus>();
        a.Tincan.LinkStatusChanged += (_, e) => changes.Enqueue(e.Current);
        a.Tincan.CreateLink(b.Id, await b.DescriptorAsync());
        b.Tincan.CreateLink(a.Id, await a.DescriptorAsync());

        await NatNode.WaitUntilAsync(() => a.LinkTo(b).Status.Path == LinkPath.DirectHost && b.LinkTo(a).Status.Path == LinkPath.DirectHost, () => $"both sides direct (A {a.LinkTo(b).Path}, B {b.LinkTo(a).Path})\n{string.Join("\n", a.Logger.Messages.TakeLast(30))}");
        Assert.Contains(changes, s => s is { State: LinkState.Connected, Path: LinkPath.DirectHost });
        Assert.DoesNotContain(changes, s => s.State != LinkState.Connected);
        // Handshake copies sprayed through the relay may still be in flight; once they settle, packets go direct.
        long relayed = await SettledAsync(() => RelayedDatagrams(a, b));
        NatNode.AssertTrafficBothWays(a, b, 20, firstSequence: 10);
        Assert.Equal(relayed, RelayedDatagrams(a, b));
        Assert.Equal(30, a.LinkTo(b).GetStats().PacketsReceived);
    }

    [Fact]
    public async Task Probes_move_a_relayed_link_to_a_direct_path_that_opens_later_and_back_to_the_relay_when_it_closes()
    {
        using CoturnServer coturn = await CoturnAsync();
        await using NatNode a = await NatNode.StartAsync("A", With(coturn));
        await using NatNode b = await NatNode.StartAsync("B", With(coturn));
        using var gate = new UdpGate(b.LocalEndPoint);
        LinkDescriptor ofB = await b.DescriptorAsync();
        LinkDescriptor ofBForA = ofB with
        {
            Candidates = [.. ofB.Candidates.Where(c => c.Type == CandidateType.Relayed), new Candidate(CandidateType.Host, gate.EndPoint, Candidate.ComputePriority(CandidateType.Host, 1), "gate")],
        };
        await ConnectAsync(a, ofBForA, b, await a.DescriptorWithOnlyAsync(CandidateType.Relayed));
        Assert.Equal(LinkPath.Relayed, a.LinkTo(b).Status.Path);
        NatNode.AssertTrafficBothWays(a, b, 5);
        long handshakes = await SettledHandshakesAsync(a.LinkTo(b));

        // The direct path opens: A's probes reach B, B answers directly, both move without a new handshake.
        gate.Open = true;
        await NatNode.WaitUntilAsync(() => a.LinkTo(b).Status.Path == LinkPath.DirectHost && b.LinkTo(a).Status.Path == LinkPath.DirectPeerReflexive, "direct after probing");
        Assert.True(handshakes == a.LinkTo(b).GetStats().Handshakes, "A:\n" + string.Join("\n", a.Logger.Messages) + "\nB:\n" + string.Join("\n", b.Logger.Messages));
        NatNode.AssertTrafficBothWays(a, b, 10, firstSequence: 5);
        Assert.Equal(gate.EndPoint, a.LinkTo(b).GetStats().RemoteCandidate!.EndPoint);

        // The direct path dies: dead-peer detection re-handshakes, and the relay carries the link again.
        gate.Open = false;
        await NatNode.WaitUntilAsync(() => a.LinkTo(b).Status is { State: LinkState.Connected, Path: LinkPath.Relayed } && b.LinkTo(a).Status is { State: LinkState.Connected, Path: LinkPath.Relayed }, "back on the relay", TimeSpan.FromSeconds(15));
        NatNode.AssertTrafficBothWays(a, b, 10, firstSequence: 15);
    }

    [Fact]
    public async Task A_flood_of_STUN_requests_and_garbage_from_a_stranger_does_not_stop_the_link()
    {
        await using NatNode a = await NatNode.StartAsync("A");
        await using NatNode b = await NatNode.StartAsync("B");
        await ConnectAsync(a, await b.DescriptorAsync(), b, await a.DescriptorAsync());
        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        stranger.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var random = new Random(4);
        byte[] request = new byte[64];
        byte[] garbage = new byte[200];
        DateTime started = DateTime.UtcNow;
        for (int i = 0; i < 3000; i++)
        {
            int length = StunBindingClient.WriteRequest(request, StunTransactionId.NewRandom());
            stranger.SendTo(request.AsSpan(0, length), SocketFlags.None, a.LocalEndPoint);
            random.NextBytes(garbage);
            garbage[0] = (byte)(i % 2 == 0 ? random.Next(0, 4) : random.Next(64, 80));
            stranger.SendTo(garbage.AsSpan(0, random.Next(1, garbage.Length)), SocketFlags.None, a.LocalEndPoint);
            if (i % 100 == 0)
            {
                NatNode.AssertTrafficBothWays(a, b, 1, firstSequence: i);
            }
        }

        NatNode.AssertTrafficBothWays(a, b, 20, firstSequence: 5000);
        double seconds = (DateTime.UtcNow - started).TotalSeconds;
        Ipop.Tincan.DataPlane.NatTraversal nat = a.Manager.Nat!;
        await NatNode.WaitUntilAsync(() => nat.BindingAnswers + nat.StrangerDrops >= 3000, "every request answered or dropped");
        Assert.True(nat.BindingAnswers > 0);
        Assert.True(nat.BindingAnswers <= 50 * (Math.Ceiling(seconds) + 2), $"answers are rate-limited ({nat.BindingAnswers} in {seconds:F1} s)");
        Assert.Equal(LinkState.Connected, a.LinkTo(b).Status.State);
        Assert.Equal(0, a.Manager.Drops.Get(DropReason.HandlerError));
        Assert.True(a.Logger.Messages.Count(m => m.Contains("Dropped unexpected STUN", StringComparison.Ordinal)) <= 2 + (seconds / 10));

        // An answer is a proper Binding success that tells the stranger its own address.
        stranger.ReceiveTimeout = 2000;
        byte[] answer = new byte[256];
        int n = stranger.Receive(answer);
        Assert.Equal(StunParseError.None, StunMessage.TryParse(answer.AsSpan(0, n), out StunMessage parsed));
        Assert.Equal(StunMessageClass.SuccessResponse, parsed.Class);
        Assert.True(parsed.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped));
        Assert.Equal(stranger.LocalEndPoint, mapped);
    }

    [Fact]
    public async Task The_relayed_data_path_allocates_nothing_per_packet()
    {
        using CoturnServer coturn = await CoturnAsync();
        await using NatNode a = await NatNode.StartAsync("A", With(coturn));
        await using NatNode b = await NatNode.StartAsync("B", With(coturn));
        await ConnectAsync(a, await b.DescriptorWithOnlyAsync(CandidateType.Relayed), b, await a.DescriptorWithOnlyAsync(CandidateType.Relayed));
        a.Nic.DiscardWrites = true;
        b.Nic.DiscardWrites = true;

        // Both directions: one side sends on its TURN channel, the other to the peer's relayed address; one side
        // receives ChannelData, the other plain datagrams from the relay.
        foreach ((NatNode from, NatNode to) in new[] { (a, b), (b, a) })
        {
            TincanLink link = from.LinkTo(to);
            byte[] buffer = new byte[DatagramLayout.BufferSize(1200)];
            buffer[DatagramLayout.PayloadOffset] = (byte)to.Name[0];
            int start = to.Router.Inbound;
            for (int i = 0; i < 100; i++)
            {
                link.SendPayload(buffer, buffer.AsSpan(DatagramLayout.PayloadOffset, 1200), ContentKind.Packet);
                await Task.Delay(2, TestContext.Current.CancellationToken);
            }

            // Warm-up done once the channel is bound and packets arrive; then measure.
            await NatNode.WaitUntilAsync(() => to.Router.Inbound >= start + 50, $"{from.Name}->{to.Name} warm-up delivered");
            await NatNode.WaitUntilAsync(() => link.Path is not RelayedPath r || r.HasChannel, "channel bound");
            int measuredFrom = to.Router.Inbound + 20;
            long sendAllocated = 0;
            for (int burst = 0; burst < 10; burst++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 30; i++)
                {
                    link.SendPayload(buffer, buffer.AsSpan(DatagramLayout.PayloadOffset, 1200), ContentKind.Packet);
                }

                sendAllocated += GC.GetAllocatedBytesForCurrentThread() - before;
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            await NatNode.WaitUntilAsync(() => to.Router.Inbound >= measuredFrom + 200, $"{from.Name}->{to.Name} delivered");
            int last = to.Router.Inbound;
            // The relay's part is 0 B (TurnAllocationTests); the link's own bookkeeping may rarely allocate a little.
            Assert.True(sendAllocated < 1000, $"{from.Name} ({link.Path}) send path allocated {sendAllocated} bytes over 300 packets");
            long received = to.Router.AllocatedOnReceiveThread(measuredFrom, last);
            Assert.True(received < last - measuredFrom, $"{to.Name} receive thread allocated {received} bytes over {last - measuredFrom} packets");
        }
    }

    [Theory]
    [InlineData(CandidateType.ServerReflexive, LinkPath.DirectServerReflexive)]
    [InlineData(CandidateType.PeerReflexive, LinkPath.DirectPeerReflexive)]
    [InlineData(CandidateType.Host, LinkPath.DirectHost)]
    public async Task The_path_kind_is_the_type_of_the_peer_candidate_that_answered(CandidateType listedAs, LinkPath expected)
    {
        await using NatNode a = await NatNode.StartAsync("A");
        await using NatNode b = await NatNode.StartAsync("B");
        LinkDescriptor ofB = await b.DescriptorAsync();
        LinkDescriptor relabelled = ofB with { Candidates = [new Candidate(listedAs, b.LocalEndPoint, Candidate.ComputePriority(listedAs, 65535), "x", "stun.lab.test:3478")] };

        await ConnectAsync(a, relabelled, b, await a.DescriptorAsync());

        Assert.Equal(expected, a.LinkTo(b).Status.Path);
        Assert.Equal(LinkPath.DirectHost, b.LinkTo(a).Status.Path);
        Candidate remote = a.LinkTo(b).GetStats().RemoteCandidate!;
        Assert.Equal(listedAs, remote.Type);
        Assert.Equal(b.LocalEndPoint, remote.EndPoint);
        NatNode.AssertTrafficBothWays(a, b, 3);
    }

    [Fact]
    public async Task Servers_given_by_host_name_with_a_shared_secret_give_a_relayed_candidate()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(new CoturnOptions { StaticAuthSecret = "lab-secret" }, Timeout());
        await using NatNode a = await NatNode.StartAsync("A", o =>
        {
            o.StunServers.Add(new StunServerOptions { Host = "localhost", Port = coturn.EndPoint.Port });
            o.TurnServers.Add(new TurnServerOptions { Host = "localhost", Port = coturn.EndPoint.Port, Username = "node-a", SharedSecret = "lab-secret" });
        });

        LinkDescriptor d = await a.DescriptorAsync();

        Candidate relay = Assert.Single(d.Candidates, c => c.Type == CandidateType.Relayed);
        Assert.Equal(IPAddress.Loopback, relay.EndPoint.Address);
        Assert.Equal($"localhost:{coturn.EndPoint.Port}", relay.Server);
        Assert.DoesNotContain(a.Logger.Messages, m => m.Contains("lab-secret", StringComparison.Ordinal));
    }
}
