using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Tests.Crypto;

public sealed class Tai64NTests
{
    [Fact]
    public void Encoding_orders_like_time_and_increment_carries()
    {
        var t = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
        byte[] a = new byte[12];
        byte[] b = new byte[12];
        Tai64N.Write(t, a);
        Tai64N.Write(t.AddTicks(1), b);
        Assert.True(Tai64N.Compare(a, b) < 0);
        Assert.Equal("400000006b06cdc000000000", Hex.Of(a));

        // 999 999 900 ns; 101 increments carry into the next second.
        Tai64N.Write(t.AddTicks(9_999_999), a);
        for (int i = 0; i < 101; i++)
        {
            Tai64N.Increment(a);
        }

        Tai64N.Write(t.AddSeconds(1), b);
        Assert.True(Tai64N.Compare(a, b) > 0);
        Assert.Equal("400000006b06cdc100000001", Hex.Of(a));
    }
}
