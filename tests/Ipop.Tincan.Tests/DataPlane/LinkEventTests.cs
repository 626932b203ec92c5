namespace Ipop.Tincan.Tests.DataPlane;

public sealed class LinkEventTests
{
    [Fact]
    public async Task A_status_handler_may_remove_and_recreate_the_link_synchronously()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        LinkDescriptor da = await a.DescriptorAsync();
        LinkDescriptor db = await b.DescriptorAsync();
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        ITincanLink? first = null;
        int handled = 0;
        a.Tincan.LinkStatusChanged += (_, e) =>
        {
            if (e.Current.State != LinkState.Connected || Interlocked.Exchange(ref handled, 1) != 0)
            {
                return;
            }

            // Another thread that needs the link table's lock and then this link's lock: it finishes only if the
            // thread raising the event holds neither (the old code raised the event under the link's lock).
            if (!Task.Run(() => a.Tincan.CreateLink(b.Id, db)).Wait(TestNode.Timeout))
            {
                outcome.TrySetResult("the event was raised under a lock another thread needs");
                return;
            }

            first = e.Link;
            bool removed = a.Tincan.RemoveLink(b.Id);
            ITincanLink again = a.Tincan.CreateLink(b.Id, db);
            outcome.TrySetResult(removed && !ReferenceEquals(again, e.Link) ? "ok" : $"removed {removed}, same link {ReferenceEquals(again, e.Link)}");
        };

        a.Tincan.CreateLink(b.Id, db);
        b.Tincan.CreateLink(a.Id, da);
        Assert.Equal("ok", await outcome.Task.WaitAsync(TestNode.Timeout * 2, TestContext.Current.CancellationToken));
        // The handler's own RemoveLink is a control step after the handler returns.
        await TestNode.WaitUntilAsync(() => first!.Status.State == LinkState.Closed, "removed link closed");

        // The link the handler created is a working link.
        await TestNode.WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected, "recreated link connected");
        Assert.NotSame(first, a.LinkTo(b));
    }
}
