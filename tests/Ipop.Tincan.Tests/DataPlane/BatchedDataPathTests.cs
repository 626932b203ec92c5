namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>
/// The batched packet paths (issue 12): the NIC thread reads many packets per call, seals them in place and sends
/// them as one batch; the receive thread writes what one receive batch decrypted with one interface call. Order,
/// completeness and zero allocation per packet must hold on both.
/// </summary>
public sealed class BatchedDataPathTests
{
    [Fact]
    public async Task A_burst_read_as_batches_arrives_complete_and_in_order()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        a.Nic.Batched = true;

        const int Count = 2000;
        for (int burst = 0; burst < Count / 100; burst++)
        {
            for (int i = 0; i < 100; i++)
            {
                a.Nic.Inject(TestNode.Packet(b, (burst * 100) + i, length: 1200));
            }

            int expected = (burst + 1) * 100;
            await TestNode.WaitUntilAsync(() => b.Nic.WrittenCount >= expected, $"burst {burst} delivered");
        }

        for (int i = 0; i < Count; i++)
        {
            byte[]? p = b.Nic.TakeWritten(TimeSpan.FromSeconds(5));
            Assert.NotNull(p);
            Assert.Equal(i, BitConverter.ToInt32(p.AsSpan(1)));
            Assert.Equal(1200, p.Length);
        }

        Assert.True(a.Nic.MultiPacketReads > 0, "the NIC thread never read more than one packet per call");
    }

    [Fact]
    public async Task The_batched_send_path_allocates_nothing_per_packet()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        a.Nic.Batched = true;
        b.Nic.DiscardWrites = true;

        int delivered = 0;
        for (int burst = 0; burst < 40; burst++)
        {
            for (int i = 0; i < 50; i++)
            {
                a.Nic.Inject(TestNode.Packet(b, i, length: 1400));
            }

            delivered += 50;
            int expected = delivered;
            await TestNode.WaitUntilAsync(() => b.Nic.DiscardedCount >= expected, $"burst {burst} delivered");
        }

        // From the 10th read on (tiering and first-use allocations done), between two reads the NIC thread routed,
        // sealed and sent whole batches: under one byte per packet means nothing was allocated per packet.
        // (The fake's own blocking take allocates; only the time between reads is Tincan's.)
        int calls = a.Nic.ReadBatchCalls;
        Assert.True(calls > 12, $"only {calls} reads");
        long allocated = a.Nic.AllocatedBetweenReads(10, calls - 1);
        Assert.True(allocated < 1000, $"the NIC thread allocated {allocated} bytes over {calls - 10} batched reads");
        Assert.True(b.Nic.MultiPacketWrites > 0 || b.Nic.DiscardedCount >= delivered, "nothing delivered");
    }
}
