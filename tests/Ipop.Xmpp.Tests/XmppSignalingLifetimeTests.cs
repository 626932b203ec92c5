using Microsoft.Extensions.DependencyInjection;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// Issue 15: the signaling client disposes whichever way its owner does it (a synchronous <c>using</c> of the provider,
/// twice, from several threads at once), every call returns only once the session is closed, and calls afterwards
/// fail at the call.
/// </summary>
public sealed class XmppSignalingLifetimeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void A_synchronous_using_of_the_provider_disposes_a_client_that_never_connected()
    {
        using ServiceProvider provider = new ServiceCollection()
            .AddXmppSignaling(o =>
            {
                o.Jid = "user@lab.test";
                o.Password = "pencil";
                o.Server = "127.0.0.1";
            })
            .BuildServiceProvider();
        _ = provider.GetRequiredService<IOverlaySignaling>();
    }

    [Fact]
    public async Task Concurrent_and_repeated_disposes_of_a_connected_client_all_wait_for_the_session_to_close()
    {
        // The server never answers our closing tag, so closing the session takes the client's full wait for it (1 s):
        // a dispose that lost the race and returned at once would show as a short one.
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            await s.IdleAsync();
        });
        var node = new XmppSignaling(server.Options());
        await node.ConnectAsync(Ct);

        using var go = new ManualResetEventSlim();
        long start = 0;
        var elapsed = new System.Collections.Concurrent.ConcurrentBag<double>();
        Task[] disposes =
        [
            .. Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                go.Wait(Ct);
                node.Dispose();
                elapsed.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }, Ct)),
            .. Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                go.Wait(Ct);
                await node.DisposeAsync();
                elapsed.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }, Ct)),
        ];
        start = System.Diagnostics.Stopwatch.GetTimestamp();
        go.Set();
        await Task.WhenAll(disposes).WaitAsync(TimeSpan.FromSeconds(20), Ct);

        Assert.Equal(8, elapsed.Count);
        Assert.All(elapsed, ms => Assert.True(ms >= 800, $"a dispose returned after {ms:F0} ms, before the session closed (~1000 ms)"));

        // Once closed: further disposes return, and calls fail at the call.
        await node.DisposeAsync();
        node.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => node.ConnectAsync(Ct));
    }
}
