using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ipop.Tap.Offload;

namespace Ipop.Tap.Tests.Offload;

/// <summary>
/// Two TUN devices in two namespaces joined by a "wire" made of this test's ReadBatch/WriteBatch loops (no
/// crypto); a real TCP transfer between the namespaces must arrive intact with offloads on, off, and in each
/// fallback the kernel could force.
/// </summary>
/// <remarks>
/// In the namespace collection (though it makes its own two namespaces) so that it never runs beside the other
/// allocation tests: its megabytes of buffers cause GCs, and a GC in another test's measuring window can show up
/// there as a few bytes of accounting noise.
/// </remarks>
[Collection(NamespaceCollection.Name)]
public sealed class OffloadTransferTests
{
    private const int TransferBytes = 8 * 1024 * 1024;
    private const int Slots = 64;

    [Theory]
    [InlineData("on", false)]
    [InlineData("on", true)]
    [InlineData("off", false)]
    [InlineData("TUNSETOFFLOAD fails", false)]
    [InlineData("USO missing", true)]
    [InlineData("TUNSETVNETHDRSZ fails", false)]
    [InlineData("on, 3 slots", false)]
    [InlineData("on, single packets", true)]
    [InlineData("tap on", false)]
    [InlineData("tap on", true)]
    [InlineData("tap off", false)]
    public void Tcp_transfer_through_two_tuns_and_a_batch_wire_arrives_intact(string mode, bool v6)
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "Needs root (CAP_NET_ADMIN) to create namespaces and TUN devices.");
        OffloadFault faults = mode switch
        {
            "TUNSETOFFLOAD fails" => OffloadFault.SetOffloadFails,
            "USO missing" => OffloadFault.UsoMissing,
            "TUNSETVNETHDRSZ fails" => OffloadFault.VnetHeaderSizeFails,
            _ => OffloadFault.None,
        };
        int slots = mode == "on, 3 slots" ? 3 : Slots;
        bool single = mode == "on, single packets";
        mode = mode.Split(',')[0];
        bool tap = mode.StartsWith("tap", StringComparison.Ordinal);
        bool offload = mode is not ("off" or "tap off");
        using var nsA = new NetworkNamespace();
        using var nsB = new NetworkNamespace();
        var logger = new ListLogger();
        using TunTapDevice a = nsA.Enter(() => TunTapDevice.Create(Options("ipopoffa", 1, offload, tap), logger, TimeProvider.System, faults));
        using TunTapDevice b = nsB.Enter(() => TunTapDevice.Create(Options("ipopoffb", 2, offload, tap), logger, TimeProvider.System, faults));

        string expectedState = mode switch
        {
            "on" or "tap on" => "TSO4 TSO6 USO on",
            "off" or "tap off" => "off: disabled by options (Offload = false)",
            "TUNSETOFFLOAD fails" => "off: TUNSETOFFLOAD failed: Invalid argument (EINVAL)",
            "USO missing" => "TSO4 TSO6 on (USO off: Invalid argument (EINVAL))",
            _ => "off: TUNSETVNETHDRSZ failed: Invalid argument (EINVAL)",
        };
        Assert.Contains($"Information: Interface ipopoffa offloads: {expectedState}", logger.Lines);
        Assert.Equal(mode is "on" or "tap on" or "USO missing", a.Offload.Tso);
        Assert.Equal(mode is "on" or "tap on", a.Offload.Uso);
        Assert.Equal(offload, a.Offload.VnetHeader);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var aToB = new Wire(a, b, slots, single, stop.Token);
        var bToA = new Wire(b, a, slots, single, stop.Token);
        byte[] sent = RandomNumberGenerator.GetBytes(TransferBytes);
        byte[] received;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            received = Transfer(nsA, nsB, v6 ? IPAddress.Parse("2001:2:0:77::2") : IPAddress.Parse("198.18.77.2"), sent);
        }
        finally
        {
            stop.Cancel();
            aToB.Join();
            bToA.Join();
        }

        double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        Assert.Equal(SHA256.HashData(sent), SHA256.HashData(received));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{mode} v6={v6}: {TransferBytes * 8 / seconds / 1e6:F0} Mbit/s; A->B {aToB.Packets} packets in {aToB.Calls} ReadBatch calls (max {aToB.MaxBatch}), " +
            $"A read {a.SuperPacketsRead} super-packets, B wrote {b.CoalescedWrites} coalesced; allocated after warm-up {aToB.Allocated}+{bToA.Allocated} bytes, write drops {a.WriteDrops}+{b.WriteDrops}");
        Assert.Null(aToB.Error);
        Assert.Null(bToA.Error);
        Assert.Equal(0, a.WriteDrops + b.WriteDrops);

        // Nothing per packet or per call: that would be thousands of bytes over these 50+ calls of up to 64
        // packets. A one-off 32 bytes was seen twice (TAP without offloads, where no offload code runs, under
        // heavy load; most likely GC accounting noise), so a few bytes of slack keep the test from flaking.
        Assert.InRange(aToB.Allocated, 0, 64);
        Assert.InRange(bToA.Allocated, 0, 64);
        foreach (OffloadDropReason reason in Enum.GetValues<OffloadDropReason>())
        {
            Assert.Equal(0, a.OffloadDrops(reason) + b.OffloadDrops(reason));
        }

        if (a.Offload.Tso)
        {
            Assert.True(single || aToB.MaxBatch > 1, "ReadBatch never returned more than one packet");
            Assert.InRange(aToB.MaxBatch, 1, slots);
            Assert.True(a.SuperPacketsRead > 0, "the sender's kernel never handed out a TSO super-packet");
            Assert.True(single || b.CoalescedWrites > 0, "WriteBatch never coalesced");
        }
        else
        {
            Assert.Equal(0, a.SuperPacketsRead);
            Assert.Equal(0, b.CoalescedWrites);
        }
    }

    [Fact]
    public void Udp_gso_send_is_split_on_read_and_coalesced_again_on_write()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "Needs root (CAP_NET_ADMIN) to create namespaces and TUN devices.");
        using var nsA = new NetworkNamespace();
        using var nsB = new NetworkNamespace();
        var logger = new ListLogger();
        using TunTapDevice a = nsA.Enter(() => TunTapDevice.Create(Options("ipopuso1", 1, true, false), logger, TimeProvider.System));
        using TunTapDevice b = nsB.Enter(() => TunTapDevice.Create(Options("ipopuso2", 2, true, false), logger, TimeProvider.System));
        Assert.SkipUnless(a.Offload.Uso, "The kernel has no USO (before 6.2).");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var aToB = new Wire(a, b, Slots, false, stop.Token);
        var bToA = new Wire(b, a, Slots, false, stop.Token);
        const int Sends = 5;
        const int PerSend = 11; // 10 datagrams of 1000 bytes and one of 300
        var seen = new HashSet<(int, int)>();
        try
        {
            var server = new IPEndPoint(IPAddress.Parse("198.18.77.2"), 0);
            using Socket receiver = nsB.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
            receiver.Bind(server);
            receiver.ReceiveTimeout = 5000;
            using Socket sender = nsA.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));

            // UDP_SEGMENT (SOL_UDP 17, option 103): one send of many datagrams, handed to the TUN as one USO super-packet.
            sender.SetRawSocketOption(17, 103, BitConverter.GetBytes(1000));
            for (int k = 0; k < Sends; k++)
            {
                byte[] payload = new byte[(10 * 1000) + 300];
                for (int j = 0; j < payload.Length; j++)
                {
                    payload[j] = (byte)(k + (j / 1000) + j);
                }

                for (int i = 0; i < PerSend; i++)
                {
                    payload[i * 1000] = (byte)k;
                    payload[(i * 1000) + 1] = (byte)i;
                }

                sender.SendTo(payload, receiver.LocalEndPoint!);
            }

            byte[] buffer = new byte[2000];
            for (int r = 0; r < Sends * PerSend; r++)
            {
                int n = receiver.Receive(buffer);
                int k = buffer[0];
                int i = buffer[1];
                Assert.Equal(i == PerSend - 1 ? 300 : 1000, n);
                for (int j = 2; j < n; j++)
                {
                    Assert.Equal((byte)(k + i + (i * 1000) + j), buffer[j]);
                }

                Assert.True(seen.Add((k, i)), $"datagram {k}/{i} twice");
            }
        }
        finally
        {
            stop.Cancel();
            aToB.Join();
            bToA.Join();
        }

        Assert.Equal(Sends * PerSend, seen.Count);
        Assert.True(a.SuperPacketsRead >= 1, "the sender's kernel never handed out a USO super-packet");
        Assert.True(b.CoalescedWrites >= 1, "WriteBatch never coalesced the datagrams");
        TestContext.Current.TestOutputHelper?.WriteLine($"A read {a.SuperPacketsRead} super-packets; B wrote {b.CoalescedWrites} coalesced; max batch {aToB.MaxBatch}");
    }

    private static VirtualInterfaceOptions Options(string name, int host, bool offload, bool tap) => new()
    {
        Name = name,
        Mode = tap ? VirtualInterfaceMode.Tap : VirtualInterfaceMode.Tun,
        Mtu = 1400,
        Addresses = [InterfaceAddress.Parse($"198.18.77.{host}/24"), InterfaceAddress.Parse($"2001:2:0:77::{host}/64")],
        Offload = offload,
    };

    private static byte[] Transfer(NetworkNamespace client, NetworkNamespace server, IPAddress serverAddress, byte[] data)
    {
        // A socket belongs to the namespace of the thread that created it; it works from any thread afterwards.
        using Socket listener = server.Enter(() => new Socket(serverAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        listener.Bind(new IPEndPoint(serverAddress, 0));
        listener.Listen(1);
        using Socket sender = client.Enter(() => new Socket(serverAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        sender.SendTimeout = 30_000;
        sender.Connect(new IPEndPoint(serverAddress, ((IPEndPoint)listener.LocalEndPoint!).Port));
        using Socket receiver = listener.Accept();
        receiver.ReceiveTimeout = 30_000;

        Task send = Task.Run(() =>
        {
            for (int offset = 0; offset < data.Length;)
            {
                offset += sender.Send(data, offset, Math.Min(256 * 1024, data.Length - offset), SocketFlags.None);
            }

            sender.Shutdown(SocketShutdown.Send);
        });

        byte[] received = new byte[data.Length];
        int total = 0;
        while (total < received.Length)
        {
            int n = receiver.Receive(received, total, received.Length - total, SocketFlags.None);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        Assert.True(send.Wait(TimeSpan.FromSeconds(30)), "the sender did not finish");
        Assert.Equal(data.Length, total);
        return received;
    }

    /// <summary>One direction of the wire: ReadBatch from one device, WriteBatch of the same slots into the other.</summary>
    private sealed class Wire
    {
        private readonly Thread _thread;

        public Wire(TunTapDevice from, TunTapDevice to, int slots, bool single, CancellationToken cancellationToken)
        {
            _thread = new Thread(() => Run(from, to, slots, single, cancellationToken)) { IsBackground = true, Name = $"wire {from.Name}->{to.Name}" };
            _thread.Start();
        }

        public long Packets { get; private set; }

        public long Calls { get; private set; }

        public int MaxBatch { get; private set; }

        public long Allocated { get; private set; }

        public Exception? Error { get; private set; }

        public void Join() => Assert.True(_thread.Join(TimeSpan.FromSeconds(10)), "wire thread did not stop");

        private void Run(TunTapDevice from, TunTapDevice to, int count, bool single, CancellationToken cancellationToken)
        {
            byte[][] slots = [.. Enumerable.Range(0, count).Select(_ => GC.AllocateArray<byte>(1400 + TunTapDevice.EthernetHeaderLength, pinned: true))];
            var read = new PacketBatch(count);
            var write = new PacketBatch(count);
            long baseline = 0;
            try
            {
                while (true)
                {
                    read.Clear();
                    foreach (byte[] slot in slots)
                    {
                        read.Add(slot);
                    }

                    // Single packets: Read must hand out a super-packet's segments one by one, Write add the header.
                    int n = 1;
                    if (single)
                    {
                        read.SetLength(0, from.Read(slots[0], cancellationToken));
                        _ = to.Write(read[0].Span);
                    }
                    else
                    {
                        n = from.ReadBatch(read, cancellationToken);
                        write.Clear();
                        for (int i = 0; i < n; i++)
                        {
                            write.Add(read[i]);
                        }

                        _ = to.WriteBatch(write);
                    }

                    Packets += n;
                    MaxBatch = Math.Max(MaxBatch, n);
                    Calls++;

                    // Measured from the 50th call on, after the JIT and the first-use paths are done.
                    if (Calls == 50)
                    {
                        baseline = GC.GetAllocatedBytesForCurrentThread();
                    }
                    else if (Calls > 50)
                    {
                        Allocated = GC.GetAllocatedBytesForCurrentThread() - baseline;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            catch (Exception e)
            {
                Error = e;
            }
        }
    }
}
