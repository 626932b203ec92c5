using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane;

public sealed class StagedPacketsTests
{
    [Fact]
    public void Packets_come_out_in_order_and_the_oldest_gives_way_when_full()
    {
        var staged = new StagedPackets(maxPayload: 100);
        for (int i = 0; i < StagedPackets.Capacity; i++)
        {
            Assert.True(staged.Add([(byte)i, 1, 2]));
        }

        Assert.False(staged.Add([200, 1]));
        Assert.Equal(StagedPackets.Capacity, staged.Count);

        byte[] buffer = new byte[100];
        var firsts = new List<byte>();
        while (staged.TryTake(buffer, out int length))
        {
            firsts.Add(buffer[0]);
            Assert.Equal(buffer[0] == 200 ? 2 : 3, length);
        }

        Assert.Equal([.. Enumerable.Range(1, StagedPackets.Capacity - 1).Select(i => (byte)i), (byte)200], firsts);
        Assert.Equal(0, staged.Count);
    }
}
