using Ipop.Tap.Offload;
using static Ipop.Tap.Tests.Offload.TestPackets;

namespace Ipop.Tap.Tests.Offload;

/// <summary>Corrupted frames and packets get a drop reason or pass; they never throw (a fixed seed keeps failures reproducible).</summary>
public sealed class OffloadFuzzTests
{
    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 14)]
    [InlineData(true, 14)]
    public void Splitter_survives_corrupted_super_packets(bool v6, int l3Offset)
    {
        var random = new Random(1234 + l3Offset + (v6 ? 1 : 0));
        byte[] valid = SuperPacket(Tcp(v6, 4000, 1, l3Offset: l3Offset), v6, v6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, 1000, l3Offset);
        byte[] udp = SuperPacket(Udp(v6, 4000, l3Offset), v6, VirtioNetHeader.GsoUdpL4, 1000, l3Offset);
        byte[] slot = new byte[70_000];
        int planned = 0;
        for (int i = 0; i < 20_000; i++)
        {
            byte[] frame = (i % 2 == 0 ? valid : udp).ToArray();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                // Mostly the headers, where a flip changes meaning.
                int at = random.Next(0, Math.Min(frame.Length, random.Next(2) == 0 ? 80 : frame.Length));
                frame[at] = (byte)random.Next(256);
            }

            int length = random.Next(4) == 0 ? random.Next(VirtioNetHeader.Size, frame.Length + 1) : frame.Length;
            var header = VirtioNetHeader.Read(frame);
            Span<byte> body = frame.AsSpan(VirtioNetHeader.Size, length - VirtioNetHeader.Size);
            if (SuperPacketSplitter.Prepare(body, header, l3Offset, usoEnabled: true, out SegmentationPlan plan) != OffloadDropReason.None)
            {
                continue;
            }

            planned++;
            Assert.InRange(plan.LargestSegment, 0, slot.Length);
            for (int s = 0; s < plan.SegmentCount; s++)
            {
                int n = SuperPacketSplitter.WriteSegment(body, plan, s, slot);
                Assert.InRange(n, 0, plan.LargestSegment);
            }
        }

        Assert.InRange(planned, 1, 19_999);
    }

    [Fact]
    public void Coalescer_survives_corrupted_packets_and_keeps_the_count()
    {
        var random = new Random(99);
        var coalescer = new SegmentCoalescer(0, enabled: true);
        byte[] buffer = new byte[coalescer.MaxFrameLength];
        var batch = new PacketBatch(16);
        for (int round = 0; round < 2000; round++)
        {
            batch.Clear();
            bool v6 = round % 2 == 0;
            for (int i = 0; i < 16; i++)
            {
                byte[] p = Tcp(v6, 500, (uint)(1000 + (i * 500)), Ack, (ushort)i);
                if (random.Next(3) == 0)
                {
                    p[random.Next(0, Math.Min(p.Length, 72))] = (byte)random.Next(256);
                }

                batch.Add(random.Next(8) == 0 ? p.AsMemory(0, random.Next(p.Length)) : p);
            }

            int consumed = 0;
            while (consumed < batch.Count)
            {
                int count = coalescer.Next(batch, consumed, buffer, out int length);
                Assert.InRange(count, 1, batch.Count - consumed);
                Assert.InRange(length, VirtioNetHeader.Size, buffer.Length);
                consumed += count;
            }
        }
    }
}
