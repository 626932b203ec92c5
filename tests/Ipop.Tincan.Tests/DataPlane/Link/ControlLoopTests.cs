using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.Tests.DataPlane.Link;

public sealed class ControlLoopTests
{
    [Fact]
    public void An_idle_loop_runs_a_step_on_the_posting_thread_before_Post_returns()
    {
        var after = new List<string>();
        var loop = new ControlLoop(() => after.Add("after"), e => throw e);
        int ranOn = 0;
        loop.Post(() => ranOn = Environment.CurrentManagedThreadId);
        Assert.Equal(Environment.CurrentManagedThreadId, ranOn);
        Assert.Equal(["after"], after);
        Assert.True(loop.IsIdle);
    }

    [Fact]
    public void A_step_posted_from_a_step_or_from_the_after_step_hook_runs_next_not_inside()
    {
        var log = new List<string>();
        ControlLoop? loop = null;
        bool hooked = false;
        loop = new ControlLoop(
            () =>
            {
                // Like an event handler that calls RemoveLink: it only posts.
                if (!hooked)
                {
                    hooked = true;
                    loop!.Post(() => log.Add("from hook"));
                    log.Add("hook done");
                }
            },
            e => throw e);

        loop.Post(() =>
        {
            Assert.True(loop.IsRunningHere);
            loop.Post(() => log.Add("from step"));
            log.Add("step done");
        });

        Assert.Equal(["step done", "hook done", "from step", "from hook"], log);
        Assert.False(loop.IsRunningHere);
    }

    [Fact]
    public void A_step_that_throws_is_reported_and_the_next_one_still_runs()
    {
        var errors = new List<Exception>();
        var loop = new ControlLoop(() => { }, errors.Add);
        bool ran = false;
        loop.Post(() => throw new InvalidOperationException("bug"));
        loop.Post(() => ran = true);
        Assert.Single(errors);
        Assert.True(ran);
    }

    [Fact]
    public void Handshake_messages_beyond_the_capacity_are_refused_while_the_loop_is_busy()
    {
        ControlLoop? loop = null;
        int accepted = 0;
        int refused = 0;
        int handled = 0;
        loop = new ControlLoop(() => { }, e => throw e);
        loop.Post(() =>
        {
            // While this step runs (as a receive thread would see a busy loop), a flood arrives.
            for (int i = 0; i < ControlLoop.HandshakeCapacity + 10; i++)
            {
                if (loop.TryPostHandshake(() => handled++))
                {
                    accepted++;
                }
                else
                {
                    refused++;
                }
            }

            Assert.Equal(ControlLoop.HandshakeCapacity, loop.HandshakesWaiting);
        });

        Assert.Equal(ControlLoop.HandshakeCapacity, accepted);
        Assert.Equal(10, refused);
        Assert.Equal(ControlLoop.HandshakeCapacity, handled);
        Assert.Equal(0, loop.HandshakesWaiting);
        Assert.True(loop.TryPostHandshake(() => handled++));
    }
}
