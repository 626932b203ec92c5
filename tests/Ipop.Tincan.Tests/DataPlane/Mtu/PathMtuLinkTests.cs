using System.Buffers.Binary;
using System.Net;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>
/// Two real nodes on 127.0.0.1 whose datagrams cross a relay that silently loses those above 1,252 bytes (an IPv4
/// path MTU of 1,280 with ICMP filtered): the links find the path by probing, TCP SYNs are clamped both ways, and
/// larger packets are answered on the interface instead of vanishing.
/// </summary>
public sealed class PathMtuLinkTests
{
    private const int UnderlayMtu = 1280;
    private const int PathInner = UnderlayMtu - 20 - 8 - 32; // 1,220
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private static async Task<(TestNode A, TestNode B, UdpRelay Relay)> StartPairAsync(bool bProbes = true)
    {
        TestNode a = await TestNode.StartAsync("A", configure: o => o.PathMtuProbeTimeout = TimeSpan.FromMilliseconds(300));
        TestNode b = await TestNode.StartAsync("B", configure: o =>
        {
            o.PathMtuProbeTimeout = TimeSpan.FromMilliseconds(300);
            o.PathMtuDiscovery = bProbes;
        });
        var relay = new UdpRelay(b.Manager.Mux!.LocalEndPoint) { MaxDatagram = UnderlayMtu - 28 };
        b.Tincan.CreateLink(a.Id, await a.DescriptorViaAsync(relay.EndPoint));
        a.Tincan.CreateLink(b.Id, await b.DescriptorViaAsync(relay.EndPoint));
        await TestNode.WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected && b.LinkTo(a).Status.State == LinkState.Connected, "connected through the relay");

        // Real IP routing (the test router routes by a first byte no IP packet has).
        await RouteAsync(a, b, "198.19.0.2/32", "2001:2:0:1::2/128");
        await RouteAsync(b, a, "198.19.0.1/32", "2001:2:0:1::1/128");
        return (a, b, relay);
    }

    private static async Task RouteAsync(TestNode from, TestNode to, string v4, string v6)
    {
        var routes = new RouteTable();
        routes.SetRoute(IPNetwork.Parse(v4), from.LinkTo(to));
        routes.SetRoute(IPNetwork.Parse(v6), from.LinkTo(to));
        await from.Tincan.DetachInterfaceAsync(TestContext.Current.CancellationToken);
        from.Tincan.AttachInterface(from.Nic, routes);
    }

    private static TincanLink Link(TestNode from, TestNode to) => (TincanLink)from.LinkTo(to);

    [Fact]
    public async Task Probing_finds_the_path_mtu_exactly_without_any_icmp()
    {
        (TestNode a, TestNode b, UdpRelay relay) = await StartPairAsync();
        await using (a)
        await using (b)
        using (relay)
        {
            await TestNode.WaitUntilAsync(() => Link(a, b).EffectiveMtu == PathInner && Link(b, a).EffectiveMtu == PathInner, "both links at 1,220", TimeSpan.FromSeconds(15));
            Assert.Equal(PathInner, Link(a, b).SendLimit);

            // Exactly the size found crosses; one byte more is answered on the interface.
            byte[] fits = TestPackets.Echo(ipv6: false, PathInner);
            a.Nic.Inject(fits);
            Assert.Equal(fits, b.Nic.TakeWritten(Wait));
        }
    }

    [Fact]
    public async Task A_packet_larger_than_the_path_gets_fragmentation_needed_from_the_interface_instead_of_silence()
    {
        (TestNode a, TestNode b, UdpRelay relay) = await StartPairAsync();
        await using (a)
        await using (b)
        using (relay)
        {
            await TestNode.WaitUntilAsync(() => Link(a, b).EffectiveMtu == PathInner, "a's link at 1,220", TimeSpan.FromSeconds(15));
            long before = a.Manager.Drops.Get(DropReason.PathMtuExceeded);

            a.Nic.Inject(TestPackets.Echo(ipv6: false, PathInner + 1));
            byte[]? answer = a.Nic.TakeWritten(Wait);
            Assert.NotNull(answer);
            Assert.Equal((3, 4), (answer[20], answer[21]));
            Assert.Equal(PathInner, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(26)));
            Assert.Equal(before + 1, a.Manager.Drops.Get(DropReason.PathMtuExceeded));

            a.Nic.Inject(TestPackets.Echo(ipv6: true, 1400));
            answer = a.Nic.TakeWritten(Wait);
            Assert.NotNull(answer);
            Assert.Equal(2, answer[40]); // packet too big
            Assert.Equal(1280u, BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(44)));

            // IPv4 without DF: sent as it is (here the path loses it, like the underlay would without fragmenting).
            a.Nic.Inject(TestPackets.Echo(ipv6: false, 1400, dontFragment: false));
            Assert.Null(a.Nic.TakeWritten(TimeSpan.FromMilliseconds(300)));
            Assert.Null(b.Nic.TakeWritten(TimeSpan.FromMilliseconds(300)));
        }
    }

    [Fact]
    public async Task Tcp_syn_mss_is_clamped_on_the_way_out_and_on_the_way_in()
    {
        // b does not probe (its link assumes the whole MTU), so only a's clamp fixes b's SYN-ACK.
        (TestNode a, TestNode b, UdpRelay relay) = await StartPairAsync(bProbes: false);
        await using (a)
        await using (b)
        using (relay)
        {
            await TestNode.WaitUntilAsync(() => Link(a, b).EffectiveMtu == PathInner, "a's link at 1,220", TimeSpan.FromSeconds(15));

            a.Nic.Inject(TestPackets.Tcp(ipv6: false, TestPackets.Syn, mss: 1460));
            byte[]? syn = b.Nic.TakeWritten(Wait);
            Assert.NotNull(syn);
            Assert.Equal(PathInner - 40, TestPackets.Mss(syn));
            Assert.True(TestPackets.L4ChecksumVerifies(syn, ipv6: false, 6));

            b.Nic.Inject(TestPackets.Tcp(ipv6: true, TestPackets.Syn | TestPackets.Ack, mss: 1440, reply: true));
            byte[]? synAck = a.Nic.TakeWritten(Wait);
            Assert.NotNull(synAck);
            Assert.Equal(PathInner - 60, TestPackets.Mss(synAck));
            Assert.True(TestPackets.L4ChecksumVerifies(synAck, ipv6: true, 6));
        }
    }

    [Fact]
    public async Task Segments_of_a_tso_super_packet_larger_than_the_path_are_answered_and_smaller_ones_cross()
    {
        (TestNode a, TestNode b, UdpRelay relay) = await StartPairAsync();
        await using (a)
        await using (b)
        using (relay)
        {
            await TestNode.WaitUntilAsync(() => Link(a, b).EffectiveMtu == PathInner, "a's link at 1,220", TimeSpan.FromSeconds(15));

            // What the TUN reader hands out for a 64 KiB super-packet with gso_size 1,360 (a connection opened before
            // the path shrank): complete segments, each too large. Each is answered, none is sent.
            for (int i = 0; i < 4; i++)
            {
                a.Nic.Inject(TestPackets.Tcp(ipv6: false, TestPackets.Ack, mss: 0, payload: 1360));
            }

            for (int i = 0; i < 4; i++)
            {
                byte[]? answer = a.Nic.TakeWritten(Wait);
                Assert.NotNull(answer);
                Assert.Equal((3, 4), (answer[20], answer[21]));
            }

            // After the sender lowered its MSS (gso_size 1,168 = 1,220 - 52 with timestamps): every segment crosses.
            for (int i = 0; i < 4; i++)
            {
                a.Nic.Inject(TestPackets.Tcp(ipv6: false, TestPackets.Ack, mss: 0, payload: PathInner - 52));
            }

            for (int i = 0; i < 4; i++)
            {
                byte[]? segment = b.Nic.TakeWritten(Wait);
                Assert.NotNull(segment);
                Assert.Equal(PathInner, segment.Length);
            }

            Assert.Null(a.Nic.TakeWritten(TimeSpan.FromMilliseconds(200)));
        }
    }
}
