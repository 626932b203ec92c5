using System.Buffers.Binary;
using Ipop.Tap.Offload;
using static Ipop.Tap.Tests.Offload.TestPackets;

namespace Ipop.Tap.Tests.Offload;

/// <remarks>In the namespace collection only to keep its allocation test apart from the others (see <see cref="OffloadTransferTests"/>).</remarks>
[Collection(NamespaceCollection.Name)]
public sealed class SegmentCoalescerTests
{
    /// <summary>Runs the coalescer over the batch; returns each frame written and how many packets it held.</summary>
    private static List<(byte[] Frame, int Count)> Coalesce(IReadOnlyList<byte[]> packets, int l3Offset = 0, bool enabled = true, bool udp = false)
    {
        var coalescer = new SegmentCoalescer(l3Offset, enabled, udp);
        var batch = new PacketBatch(packets.Count);
        foreach (byte[] p in packets)
        {
            batch.Add(p);
        }

        byte[] buffer = new byte[coalescer.MaxFrameLength];
        var frames = new List<(byte[], int)>();
        for (int i = 0; i < batch.Count;)
        {
            int count = coalescer.Next(batch, i, buffer, out int length);
            frames.Add((buffer[..length], count));
            i += count;
        }

        return frames;
    }

    private static List<byte[]> Stream(bool v6, int count, int size = 1000, int last = 1000, byte lastFlags = Ack | Psh, int l3Offset = 0) =>
        [.. Enumerable.Range(0, count).Select(i => Tcp(v6, i == count - 1 ? last : size, (uint)(5000 + (i * size)), i == count - 1 ? lastFlags : Ack, (ushort)(100 + i), l3Offset))];

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 14)]
    [InlineData(true, 14)]
    public void Split_then_coalesce_round_trips_byte_for_byte(bool v6, int l3Offset)
    {
        List<byte[]> packets = Stream(v6, 20, last: 321, l3Offset: l3Offset);

        (byte[] frame, int count) = Assert.Single(Coalesce(packets, l3Offset));

        Assert.Equal(20, count);
        var header = VirtioNetHeader.Read(frame);
        Assert.Equal(v6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, header.GsoType);
        Assert.Equal(VirtioNetHeader.FlagNeedsChecksum, header.Flags);
        Assert.Equal(1000, header.GsoSize);
        Assert.Equal(l3Offset + (v6 ? 40 : 20), header.ChecksumStart);
        Assert.Equal(16, header.ChecksumOffset);
        Assert.Equal(l3Offset + (v6 ? 40 : 20) + 32, header.HeaderLength);

        // The super-packet's checksum is partial; finishing it as the kernel would gives a valid TCP checksum.
        byte[] finished = frame[VirtioNetHeader.Size..];
        Assert.Equal(OffloadDropReason.None, SuperPacketSplitter.FinishChecksum(finished, header.ChecksumStart, header.ChecksumOffset));
        Assert.True(ChecksumsValid(finished.AsSpan(l3Offset)));

        OffloadDropReason reason = SuperPacketSplitter.Prepare(frame.AsSpan(VirtioNetHeader.Size), header, l3Offset, usoEnabled: false, out SegmentationPlan plan);
        Assert.Equal(OffloadDropReason.None, reason);
        Assert.Equal(20, plan.SegmentCount);
        byte[] slot = new byte[2000];
        for (int i = 0; i < 20; i++)
        {
            int n = SuperPacketSplitter.WriteSegment(frame.AsSpan(VirtioNetHeader.Size), plan, i, slot);
            Assert.Equal(packets[i], slot[..n]);
        }
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 14)]
    public void Udp_datagrams_coalesce_with_uso_and_split_back_byte_for_byte(bool v6, int l3Offset)
    {
        List<byte[]> packets = [.. Enumerable.Range(0, 8).Select(i => Udp(v6, i == 7 ? 200 : 1200, l3Offset, (ushort)(300 + i), (byte)i))];

        Assert.Equal(Enumerable.Repeat(1, 8), Coalesce(packets, l3Offset).Select(f => f.Count));
        (byte[] frame, int count) = Assert.Single(Coalesce(packets, l3Offset, udp: true));

        Assert.Equal(8, count);
        var header = VirtioNetHeader.Read(frame);
        Assert.Equal(VirtioNetHeader.GsoUdpL4, header.GsoType);
        Assert.Equal(1200, header.GsoSize);
        Assert.Equal(6, header.ChecksumOffset);
        byte[] finished = frame[VirtioNetHeader.Size..];
        Assert.Equal(OffloadDropReason.None, SuperPacketSplitter.FinishChecksum(finished, header.ChecksumStart, header.ChecksumOffset));
        Assert.True(ChecksumsValid(finished.AsSpan(l3Offset)));
        Assert.Equal(OffloadDropReason.None, SuperPacketSplitter.Prepare(frame.AsSpan(VirtioNetHeader.Size), header, l3Offset, usoEnabled: true, out SegmentationPlan plan));
        byte[] slot = new byte[2000];
        Assert.Equal(8, plan.SegmentCount);
        for (int i = 0; i < 8; i++)
        {
            int n = SuperPacketSplitter.WriteSegment(frame.AsSpan(VirtioNetHeader.Size), plan, i, slot);
            Assert.Equal(packets[i], slot[..n]);
        }
    }

    [Fact]
    public void Udp_runs_break_on_a_larger_datagram_or_a_missing_checksum()
    {
        List<byte[]> packets = [.. Enumerable.Range(0, 6).Select(i => Udp(false, 1000, 0, (ushort)i))];
        packets[2] = Udp(false, 1001, 0, 2);
        packets[4][20 + 6] = 0; // IPv4 UDP without checksum
        packets[4][20 + 7] = 0;

        Assert.Equal([2, 2, 1, 1], Coalesce(packets, udp: true).Select(f => f.Count));
    }

    [Fact]
    public void Super_packet_stops_at_64_KiB_and_the_rest_forms_the_next_one()
    {
        List<byte[]> packets = Stream(false, 100, size: 1400, last: 1400);

        List<(byte[] Frame, int Count)> frames = Coalesce(packets);

        Assert.Equal(100, frames.Sum(f => f.Count));
        Assert.All(frames, f => Assert.InRange(f.Frame.Length - VirtioNetHeader.Size, 0, 65535));
        Assert.Equal(46, frames[0].Count); // 52 header bytes + 46 * 1400 = 64452; a 47th would pass 65535
    }

    public static TheoryData<string, int[]> Breaks() => new()
    {
        // Which packet (index in a 6-packet stream) is changed, and the run lengths the batch is then written in.
        { "PSH in the middle ends the run after it", [3, 3] },
        { "a shorter packet in the middle ends the run after it", [3, 3] },
        { "a longer packet cannot follow", [2, 2, 2] },
        { "a gap in sequence numbers", [2, 4] },
        { "another source port", [2, 4] },
        { "SYN", [2, 1, 3] },
        { "FIN", [2, 1, 3] },
        { "RST", [2, 1, 3] },
        { "URG", [2, 1, 3] },
        { "a bad TCP checksum", [2, 1, 3] },
        { "another ack number", [2, 4] },
        { "another window", [2, 4] },
        { "another TTL", [2, 4] },
        { "other options (timestamp)", [2, 4] },
        { "an IPv6 packet among IPv4", [2, 1, 3] },
        { "no payload", [2, 1, 3] },
        { "UDP", [2, 1, 3] },
    };

    [Theory]
    [MemberData(nameof(Breaks))]
    public void Packets_that_may_not_merge_break_the_run_and_keep_their_order(string @case, int[] runs)
    {
        List<byte[]> packets = Stream(false, 6, lastFlags: Ack);
        const int k = 2;
        byte[] p = packets[k];
        int tcp = 20;
        switch (@case)
        {
            case "PSH in the middle ends the run after it": p = Tcp(false, 1000, 7000, Ack | Psh, 102); break;
            case "a shorter packet in the middle ends the run after it": p = Tcp(false, 999, 7000, Ack, 102); packets[3] = Tcp(false, 1000, 7999, Ack, 103); packets[4] = Tcp(false, 1000, 8999, Ack, 104); packets[5] = Tcp(false, 1000, 9999, Ack, 105); break;
            case "a longer packet cannot follow": p = Tcp(false, 1001, 7000, Ack, 102); packets[3] = Tcp(false, 1000, 8001, Ack, 103); packets[4] = Tcp(false, 1000, 9001, Ack, 104); packets[5] = Tcp(false, 1000, 10001, Ack, 105); break;
            case "a gap in sequence numbers": p = Tcp(false, 1000, 7001, Ack, 102); packets[3] = Tcp(false, 1000, 8001, Ack, 103); packets[4] = Tcp(false, 1000, 9001, Ack, 104); packets[5] = Tcp(false, 1000, 10001, Ack, 105); break;
            case "another source port": p = Tcp(false, 1000, 7000, Ack, 102, sourcePort: 40001); packets[3] = Tcp(false, 1000, 8000, Ack, 103, sourcePort: 40001); packets[4] = Tcp(false, 1000, 9000, Ack, 104, sourcePort: 40001); packets[5] = Tcp(false, 1000, 10000, Ack, 105, sourcePort: 40001); break;
            case "SYN": p = Tcp(false, 1000, 7000, Ack | Syn, 102); break;
            case "FIN": p = Tcp(false, 1000, 7000, Ack | Fin, 102); break;
            case "RST": p = Tcp(false, 1000, 7000, Ack | Rst, 102); break;
            case "URG": p = Tcp(false, 1000, 7000, Ack | Urg, 102); break;
            case "a bad TCP checksum": p[tcp + 16] ^= 0x55; break;
            case "another ack number": Rewrite(packets, 2, b => b[tcp + 11] ^= 1); break;
            case "another window": Rewrite(packets, 2, b => b[tcp + 15] ^= 1); break;
            case "another TTL": Rewrite(packets, 2, b => b[8] = 63); break;
            case "other options (timestamp)": Rewrite(packets, 2, b => b[tcp + 25] ^= 1); break;
            case "an IPv6 packet among IPv4": p = Tcp(true, 1000, 7000, Ack, 102); break;
            case "no payload": p = Tcp(false, 0, 7000, Ack, 102); break;
            case "UDP": p = Udp(false, 1000); break;
        }

        if (@case is not ("another ack number" or "another window" or "another TTL" or "other options (timestamp)"))
        {
            packets[k] = p;
        }

        List<(byte[] Frame, int Count)> frames = Coalesce(packets);

        Assert.Equal(runs, frames.Select(f => f.Count));

        // Every packet still goes out, in order: splitting each frame gives the input back.
        var output = new List<byte[]>();
        byte[] slot = new byte[2000];
        foreach ((byte[] frame, int _) in frames)
        {
            var header = VirtioNetHeader.Read(frame);
            Assert.Equal(OffloadDropReason.None, SuperPacketSplitter.Prepare(frame.AsSpan(VirtioNetHeader.Size), header, 0, false, out SegmentationPlan plan));
            for (int i = 0; i < plan.SegmentCount; i++)
            {
                output.Add(slot[..SuperPacketSplitter.WriteSegment(frame.AsSpan(VirtioNetHeader.Size), plan, i, slot)]);
            }
        }

        Assert.Equal(packets, output);
    }

    [Fact]
    public void Disabled_coalescer_writes_every_packet_alone_with_an_empty_header()
    {
        List<byte[]> packets = Stream(false, 4);

        List<(byte[] Frame, int Count)> frames = Coalesce(packets, enabled: false);

        Assert.Equal([1, 1, 1, 1], frames.Select(f => f.Count));
        Assert.All(frames, f => Assert.Equal(new byte[VirtioNetHeader.Size], f.Frame[..VirtioNetHeader.Size]));
        Assert.Equal(packets, frames.Select(f => f.Frame[VirtioNetHeader.Size..]));
    }

    [Fact]
    public void Coalescing_and_splitting_allocate_nothing()
    {
        List<byte[]> packets = Stream(true, 40, last: 500);
        var coalescer = new SegmentCoalescer(0, enabled: true);
        var batch = new PacketBatch(packets.Count);
        packets.ForEach(p => batch.Add(p));
        byte[] buffer = new byte[coalescer.MaxFrameLength];
        byte[] slot = new byte[2000];

        int Run()
        {
            int segments = 0;
            for (int i = 0; i < batch.Count;)
            {
                int count = coalescer.Next(batch, i, buffer, out int length);
                var header = VirtioNetHeader.Read(buffer);
                _ = SuperPacketSplitter.Prepare(buffer.AsSpan(VirtioNetHeader.Size, length - VirtioNetHeader.Size), header, 0, false, out SegmentationPlan plan);
                for (int s = 0; s < plan.SegmentCount; s++)
                {
                    _ = SuperPacketSplitter.WriteSegment(buffer.AsSpan(VirtioNetHeader.Size, length - VirtioNetHeader.Size), plan, s, slot);
                    segments++;
                }

                i += count;
            }

            return segments;
        }

        Assert.Equal(40, Run());
        long before = GC.GetAllocatedBytesForCurrentThread();
        int total = 0;
        for (int r = 0; r < 1000; r++)
        {
            total += Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(40_000, total);
    }

    private static void Rewrite(List<byte[]> packets, int from, Action<byte[]> change)
    {
        // Change the packet and all after it the same way (so they still merge among themselves), then fix checksums.
        for (int i = from; i < packets.Count; i++)
        {
            byte[] p = packets[i];
            change(p);
            p[10] = 0;
            p[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), PacketCrafter.Checksum(p.AsSpan(0, 20)));
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(36), L4Checksum(p, false, 6));
        }
    }
}
