using System.Net;
using CsCheck;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane;

public sealed class ReceivePathPropertyTests
{
    [Fact]
    public async Task Arbitrary_datagrams_never_throw_and_are_all_counted()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await using TestNode c = await TestNode.StartAsync("C");
        await TestNode.ConnectAsync(a, c);

        // B has no links, so no real traffic changes its counters while we sample.
        LinkManager manager = b.Manager;
        SocketAddress from = new IPEndPoint(IPAddress.Loopback, 9).Serialize();

        // Headers that look right (each message type, exact handshake lengths, zero reserved bytes) with arbitrary
        // bodies: the receive path must drop every one quietly and count it exactly once.
        Gen<byte[]> datagrams = Gen.Select(Gen.Byte[4, 7], Gen.Int[1, 200], Gen.Byte.Array[200]).Select((type, length, body) =>
        {
            byte[] d = new byte[type switch { 4 => HandshakeInitiationMessage.Length, 5 => HandshakeResponseMessage.Length, _ => Math.Max(length, 1) }];
            body.AsSpan(0, Math.Min(body.Length, d.Length)).CopyTo(d);
            d[0] = type;
            if (d.Length >= 4)
            {
                d[1] = type == 7 ? (byte)(d[1] % 3) : (byte)0;
                d[2] = 0;
                d[3] = 0;
            }

            return d;
        });

        long before = Total(manager);
        int count = 0;
        datagrams.Sample(d =>
        {
            manager.OnIpopDatagram(d, from);
            count++;
        }, iter: 2000, threads: 1);

        Assert.Equal(before + count, Total(manager));
        Assert.Equal(0, b.Nic.WrittenCount);

        // The same junk through a node with a live link leaves the link working.
        datagrams.Sample(d => c.Manager.OnIpopDatagram(d, from), iter: 500, threads: 1);
        byte[] p = TestNode.Packet(c, 1);
        a.Nic.Inject(p);
        Assert.Equal(p, c.Nic.TakeWritten(TestNode.Timeout));
    }

    private static long Total(LinkManager m)
    {
        long total = 0;
        foreach (DropReason r in Enum.GetValues<DropReason>())
        {
            total += m.Drops.Get(r);
        }

        return total;
    }
}
