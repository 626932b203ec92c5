using System.Diagnostics;

namespace Ipop.Xmpp.Tests;

/// <summary>The first login against a real prosody that is too busy to answer is retried, not given up.</summary>
public sealed class XmppLoginRetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_login_to_a_frozen_server_times_out_and_is_retried_until_the_server_thaws()
    {
        await using var fixture = new ProsodyFixture();
        await fixture.InitializeAsync();
        string[] users = await fixture.RegisterAsync("frozenlogin", 1);
        await using var node = new XmppSignaling(fixture.Options(users[0], o =>
        {
            o.ConnectTimeout = TimeSpan.FromSeconds(1);
            o.ReconnectMinDelay = TimeSpan.FromMilliseconds(200);
            o.ReconnectMaxDelay = TimeSpan.FromSeconds(1);
        }));

        // SIGSTOP: the kernel still accepts TCP connections, but nothing answers the stream header,
        // as with a server starved of CPU; every attempt times out.
        await fixture.PauseServerAsync();
        var clock = Stopwatch.StartNew();
        Task connect = node.ConnectAsync(Ct);
        await Task.Delay(TimeSpan.FromSeconds(3.5), Ct);
        Assert.False(connect.IsCompleted, connect.Exception?.InnerException?.Message ?? "ConnectAsync ended while the server was frozen");

        await fixture.ResumeServerAsync();
        await connect.WaitAsync(TimeSpan.FromSeconds(15), Ct);
        Assert.True(node.IsConnected);
        TestContext.Current.SendDiagnosticMessage($"logged in {clock.Elapsed.TotalSeconds:0.0} s after starting, 3.5 s of it frozen");
    }

    [Fact]
    public async Task A_wrong_password_fails_at_once_even_though_timeouts_are_retried()
    {
        await using var fixture = new ProsodyFixture();
        await fixture.InitializeAsync();
        string[] users = await fixture.RegisterAsync("badlogin", 1);
        await using var node = new XmppSignaling(fixture.Options(users[0], o => o.Password = "wrong"));
        var clock = Stopwatch.StartNew();
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Authentication, ex.Kind);
        Assert.Contains("not-authorized", ex.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }
}
