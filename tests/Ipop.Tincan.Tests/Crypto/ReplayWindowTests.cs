using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Tests.Crypto;

public sealed class ReplayWindowTests
{
    [Fact]
    public void In_order_counters_are_accepted_once()
    {
        var w = new ReplayWindow();
        for (ulong i = 0; i < 5000; i++)
        {
            Assert.True(w.Check(i));
            Assert.True(w.TryAccept(i));
            Assert.False(w.Check(i));
            Assert.False(w.TryAccept(i));
        }
    }

    [Fact]
    public void Out_of_order_within_the_window_is_accepted()
    {
        var w = new ReplayWindow();
        Assert.True(w.TryAccept(3000));
        Assert.True(w.TryAccept(2999));
        Assert.True(w.TryAccept(1500));
        Assert.True(w.TryAccept(3000 - ReplayWindow.WindowSize));
        Assert.True(w.TryAccept(3001));
        Assert.True(w.TryAccept(2500));
        Assert.False(w.TryAccept(2500));
        Assert.False(w.TryAccept(2999));
    }

    [Fact]
    public void Counter_older_than_the_window_is_rejected()
    {
        var w = new ReplayWindow();
        Assert.True(w.TryAccept(10_000));
        Assert.False(w.Check(10_000 - ReplayWindow.WindowSize - 1));
        Assert.False(w.TryAccept(10_000 - ReplayWindow.WindowSize - 1));
        Assert.False(w.TryAccept(0));
        Assert.True(w.TryAccept(10_000 - ReplayWindow.WindowSize));
    }

    [Fact]
    public void Duplicate_is_rejected_even_after_the_window_moves_a_little()
    {
        var w = new ReplayWindow();
        Assert.True(w.TryAccept(100));
        Assert.True(w.TryAccept(164));
        Assert.True(w.TryAccept(300));
        Assert.False(w.TryAccept(100));
        Assert.False(w.TryAccept(164));
        Assert.True(w.TryAccept(101));
    }

    [Fact]
    public void Huge_jump_clears_the_window_and_keeps_working()
    {
        var w = new ReplayWindow();
        for (ulong i = 0; i < 3000; i++)
        {
            Assert.True(w.TryAccept(i));
        }

        ulong far = 1UL << 40;
        Assert.True(w.TryAccept(far));
        Assert.False(w.TryAccept(2999));

        // Bits left over from before the jump must not make fresh counters look like duplicates.
        for (ulong i = far - ReplayWindow.WindowSize; i < far; i++)
        {
            Assert.True(w.TryAccept(i), $"counter {i} rejected after jump");
        }
    }

    [Fact]
    public void Ring_wrap_reuses_blocks_without_false_duplicates()
    {
        var w = new ReplayWindow();

        // Advance one block at a time so every ring slot is cleared and reused many times.
        ulong greatest = 0;
        for (ulong i = 0; i < ReplayWindow.RingBits * 10; i += 3)
        {
            Assert.True(w.TryAccept(i), $"counter {i}");
            greatest = i;
        }

        for (ulong i = 1; i < ReplayWindow.RingBits * 10; i += 3)
        {
            bool inWindow = i > greatest || greatest - i <= ReplayWindow.WindowSize;
            Assert.Equal(inWindow, w.TryAccept(i));
        }
    }

    [Fact]
    public void Counters_at_the_limit_are_rejected()
    {
        var w = new ReplayWindow();
        Assert.False(w.Check(ReplayWindow.RejectAfterMessages));
        Assert.False(w.TryAccept(ulong.MaxValue));
        Assert.True(w.TryAccept(ReplayWindow.RejectAfterMessages - 1));
    }

    [Fact]
    public void Random_order_accepts_each_counter_at_most_once()
    {
        var rng = new Random(1234);
        var w = new ReplayWindow();
        var accepted = new HashSet<ulong>();
        ulong greatest = 0;
        for (int n = 0; n < 100_000; n++)
        {
            ulong c = (ulong)rng.NextInt64(0, 200_000);
            bool ok = w.TryAccept(c);
            bool expected = !accepted.Contains(c) && (c > greatest || greatest - c <= ReplayWindow.WindowSize || accepted.Count == 0);
            if (ok)
            {
                Assert.True(accepted.Add(c), $"counter {c} accepted twice");
                greatest = Math.Max(greatest, c);
            }

            Assert.Equal(expected, ok);
        }
    }
}
