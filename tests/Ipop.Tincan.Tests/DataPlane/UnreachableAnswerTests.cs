using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan.Tests.DataPlane;

public sealed class UnreachableAnswerTests
{
    [Fact]
    public async Task A_packet_to_an_unreachable_overlay_address_is_answered_with_icmp_host_unreachable()
    {
        await using ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        await tincan.StartAsync(TestContext.Current.CancellationToken);
        using var nic = new FakeNic("ipop-test");
        var routes = new RouteTable();
        routes.SetUnreachable(IPNetwork.Parse("198.19.0.0/24"));
        tincan.AttachInterface(nic, routes);

        byte[] packet = new byte[28];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), 28);
        packet[8] = 64;
        packet[9] = 17;
        IPAddress.Parse("198.19.0.1").TryWriteBytes(packet.AsSpan(12), out _);
        IPAddress.Parse("198.19.0.9").TryWriteBytes(packet.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), IcmpUnreachable.Checksum(packet.AsSpan(0, 20), 0));
        nic.Inject(packet);

        byte[]? answer = nic.TakeWritten(TimeSpan.FromSeconds(5));
        Assert.NotNull(answer);
        Assert.Equal(1, answer[9]);                                                   // ICMP
        Assert.Equal(IPAddress.Parse("198.19.0.1"), new IPAddress(answer.AsSpan(16, 4))); // back to the sender
        Assert.Equal(3, answer[20]);                                                  // destination unreachable
        Assert.Equal(1, answer[21]);                                                  // host unreachable

        // Outside every route and unreachable prefix: dropped silently, nothing written.
        IPAddress.Parse("198.18.5.5").TryWriteBytes(packet.AsSpan(16), out _);
        nic.Inject(packet);
        Assert.Null(nic.TakeWritten(TimeSpan.FromMilliseconds(300)));
    }
}
