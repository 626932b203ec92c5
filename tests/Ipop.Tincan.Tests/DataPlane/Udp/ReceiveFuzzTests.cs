using System.Net;
using System.Net.Sockets;
using System.Buffers.Binary;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane.Udp;

/// <summary>
/// Issue 13: no datagram from the network reaches a handler's exception catch (which is for bugs). Junk of every
/// first byte, and junk shaped like each protocol the socket carries (STUN with the magic cookie, ChannelData, Ipop
/// handshakes and transport), goes through the real socket to a node with a live link.
/// </summary>
public sealed class ReceiveFuzzTests
{
    [Fact]
    public async Task Junk_of_every_kind_through_the_socket_is_dropped_without_a_handler_error()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        var random = new Random(13);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        IPEndPoint target = b.Manager.Mux!.LocalEndPoint;
        for (int i = 0; i < 6000; i++)
        {
            byte[] d = new byte[random.Next(1, 1500)];
            random.NextBytes(d);
            switch (i % 6)
            {
                case 0:
                    // STUN: a type in 0-3, a length that may or may not match, the magic cookie.
                    d = d.Length < 20 ? new byte[20 + random.Next(0, 64)] : d;
                    d[0] = (byte)random.Next(0, 4);
                    BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), (ushort)(random.Next(0, 3) == 0 ? d.Length - 20 : random.Next(0, 65536)));
                    BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(4), 0x2112A442);
                    break;
                case 1:
                    // ChannelData: channel 0x4000-0x4FFF, a length that may or may not match.
                    d = d.Length < 4 ? new byte[4] : d;
                    d[0] = (byte)random.Next(0x40, 0x50);
                    BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), (ushort)(random.Next(0, 2) == 0 ? d.Length - 4 : random.Next(0, 65536)));
                    break;
                case 2:
                    d[0] = (byte)random.Next(4, 8);
                    if (d.Length >= 4)
                    {
                        d[1] = (byte)random.Next(0, 4);
                        d[2] = 0;
                        d[3] = 0;
                    }

                    break;
                default:
                    break;
            }

            socket.SendTo(d, target);
            if (i % 500 == 0)
            {
                // Paces the flood so the receive buffer does not overflow (an overflow loses junk, not coverage).
                await Task.Delay(5, TestContext.Current.CancellationToken);
            }
        }

        // Every datagram was looked at: a marker sent last arrives after all of them (one socket, in order).
        long malformed = b.Manager.Drops.Get(DropReason.Malformed);
        socket.SendTo(new byte[] { 7, 9 }, target);
        await TestNode.WaitUntilAsync(() => b.Manager.Drops.Get(DropReason.Malformed) > malformed, "marker counted", TimeSpan.FromSeconds(10));
        Assert.Equal(0, b.Manager.Drops.Get(DropReason.HandlerError));

        byte[] p = TestNode.Packet(b, 1);
        a.Nic.Inject(p);
        Assert.Equal(p, b.Nic.TakeWritten(TimeSpan.FromSeconds(5)));
    }
}
