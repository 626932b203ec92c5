using System.Text;

namespace Ipop.Xmpp.Tests;

/// <summary>Broken or hostile servers: always a clear error or a clean reconnect, never a hang or a crash.</summary>
public sealed class XmppFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(XmppSignaling Node, SignalingProbe Probe)> ConnectAsync(FakeXmppServer server, Action<XmppSignalingOptions>? configure = null)
    {
        var node = new XmppSignaling(server.Options(configure));
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(Ct);
        return (node, probe);
    }

    [Fact]
    public async Task Fake_server_session_comes_up_with_scram_and_bind()
    {
        await using var server = new FakeXmppServer(async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(server);
        await using var _ = node;
        await SignalingProbe.WaitUntilAsync(() => probe.ConnectionEvents.Any(e => e.IsConnected), "ConnectionChanged(true) is raised");
        Assert.True(node.IsConnected);
        Assert.StartsWith("user@lab.test/ipop-", node.LocalId.Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_closes_the_stream_and_keeps_tcp_until_the_server_closes_its_stream_too()
    {
        // RFC 6120 §4.4: send </stream:stream>, then wait for the server's closing tag before
        // terminating TCP (ejabberd otherwise logs the session as "Stream reset by peer").
        var outcome = new TaskCompletionSource<(bool OpenAfterOurTag, string AfterTag, int ReadAfterServerClose)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            await s.WaitForAsync("</stream:stream>", 10);
            byte[] buffer = new byte[256];
            using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            bool open;
            string after = string.Empty;
            try
            {
                int n = await s.Stream.ReadAsync(buffer, quiet.Token);
                open = false;
                after = Encoding.UTF8.GetString(buffer, 0, n);
            }
            catch (OperationCanceledException)
            {
                open = true; // Nothing sent after the closing tag and the connection still up.
            }

            await s.SendAsync("</stream:stream>");
            using var close = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            int last = await s.Stream.ReadAsync(buffer, close.Token);
            outcome.TrySetResult((open, after, last));
        });
        (XmppSignaling node, _) = await ConnectAsync(server);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await node.DisposeAsync();
        TimeSpan took = clock.Elapsed;

        (bool openAfterOurTag, string afterTag, int readAfterServerClose) = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.True(openAfterOurTag, $"the client closed TCP or sent '{afterTag}' right after its closing tag");
        Assert.Equal(0, readAfterServerClose); // An orderly FIN once the server closed its stream.
        Assert.InRange(took, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public async Task Dispose_does_not_wait_long_for_a_server_that_never_closes_its_stream()
    {
        await using var server = new FakeXmppServer(async s => { await s.NegotiateAsync(); await s.IdleAsync(); });
        (XmppSignaling node, _) = await ConnectAsync(server);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await node.DisposeAsync();
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(3));
        Assert.False(node.IsConnected);
        await SignalingProbe.WaitUntilAsync(() => server.Transcripts.Count == 1, "the server sees the connection end");
        Assert.EndsWith("</stream:stream>", server.Transcripts[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_closing_the_stream_mid_stanza_leads_to_a_clean_reconnect()
    {
        await using var server = new FakeXmppServer(
            async s => { await s.NegotiateAsync(); await s.SendAsync("<message from='x@lab.test/r'><body>cut he"); },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(server);
        await using var _ = node;
        await SignalingProbe.WaitUntilAsync(() => probe.ConnectionEvents.Any(e => !e.IsConnected), "the client notices the cut");
        await SignalingProbe.WaitUntilAsync(() => server.Connections == 2 && node.IsConnected, "the client reconnects");
        Assert.Contains(probe.ConnectionEvents, e => !e.IsConnected && e.Reason!.Contains("connection closed in the middle", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Ten_megabyte_stanza_is_skipped_and_the_session_goes_on()
    {
        long sent = 0;
        var answered = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            await s.SendAsync("<message from='x@lab.test/r'><body>");
            byte[] chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
            for (int i = 0; i < 160; i++)
            {
                await s.Stream.WriteAsync(chunk, Ct);
                Interlocked.Add(ref sent, chunk.Length);
            }

            await s.SendAsync("</body></message><iq type='get' id='after1' from='lab.test'><ping xmlns='urn:xmpp:ping'/></iq>");
            answered.TrySetResult(await s.WaitForAsync("after1", 10));
            await s.ServeAsync();
        });
        (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(server);
        await using var _ = node;
        await answered.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(10 * 1024 * 1024, Interlocked.Read(ref sent));
        Assert.Equal(1, node.SkippedStanzas);
        Assert.True(node.IsConnected);
        Assert.Equal(1, server.Connections);
        Assert.DoesNotContain(probe.ConnectionEvents, e => !e.IsConnected);
    }

    [Theory]
    [InlineData("<message from='x@lab.test/r'><body>x</wrong></message>")]
    [InlineData("<message from='x@lab.test/r'><body>&undefined;</body></message>")]
    [InlineData("<message from='x@lab.test/r'><p:body/></message>")]
    public async Task A_malformed_stanza_mid_session_is_skipped_and_the_session_goes_on(string bad)
    {
        var answered = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            await s.SendAsync(bad + "<iq type='get' id='after1' from='lab.test'><ping xmlns='urn:xmpp:ping'/></iq>");
            answered.TrySetResult(await s.WaitForAsync("after1", 10));
            await s.ServeAsync();
        });
        (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(server);
        await using var _ = node;
        await answered.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(1, node.SkippedStanzas);
        Assert.True(node.IsConnected);
        Assert.Equal(1, server.Connections);
        Assert.DoesNotContain(probe.ConnectionEvents, e => !e.IsConnected);
    }

    [Fact]
    public async Task Text_at_stream_level_breaks_the_stream_and_the_client_reconnects()
    {
        await using var server = new FakeXmppServer(
            async s => { await s.NegotiateAsync(); await s.SendAsync("junk at stream level"); await s.IdleAsync(5); },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(server);
        await using var _ = node;
        await SignalingProbe.WaitUntilAsync(() => server.Connections == 2 && node.IsConnected, "the client reconnects");
        Assert.Contains(probe.ConnectionEvents, e => e.Reason?.Contains("stream level", StringComparison.Ordinal) == true);
        await SignalingProbe.WaitUntilAsync(() => server.Transcripts.Any(t => t.Contains("not-well-formed", StringComparison.Ordinal)), "the client told the server why");
    }

    [Fact]
    public async Task Stream_error_from_the_server_is_reported_and_the_client_reconnects()
    {
        await using var server = new FakeXmppServer(
            async s => { await s.NegotiateAsync(); await s.SendAsync("<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"); },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(server);
        await using var _ = node;
        await SignalingProbe.WaitUntilAsync(() => server.Connections == 2 && node.IsConnected, "the client reconnects");
        Assert.Contains(probe.ConnectionEvents, e => e.Reason?.Contains("system-shutdown", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Unanswered_keepalive_pings_drop_a_dead_connection_and_the_client_reconnects()
    {
        await using var server = new FakeXmppServer(
            async s => { await s.NegotiateAsync(); await s.IdleAsync(); },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(server, o => o.KeepaliveInterval = TimeSpan.FromSeconds(1));
        await using var _ = node;
        await SignalingProbe.WaitUntilAsync(() => server.Connections == 2 && node.IsConnected, "the client gives up on the silent server and reconnects");
        Assert.Contains(probe.ConnectionEvents, e => e.Reason?.Contains("keepalive", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task A_login_that_times_out_is_retried_with_backoff_until_the_server_answers()
    {
        // The first two connections get no answer at all (a server too loaded to negotiate), the third works.
        await using var server = new FakeXmppServer(
            s => s.IdleAsync(10),
            s => s.IdleAsync(10),
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        await using var node = new XmppSignaling(server.Options(o =>
        {
            o.ConnectTimeout = TimeSpan.FromMilliseconds(300);
            o.ReconnectMinDelay = TimeSpan.FromMilliseconds(100);
            o.ReconnectMaxDelay = TimeSpan.FromMilliseconds(400);
        }));
        await node.ConnectAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(node.IsConnected);
        Assert.Equal(3, server.Connections);
    }

    [Fact]
    public async Task A_login_that_never_gets_an_answer_keeps_retrying_until_cancelled()
    {
        await using var server = new FakeXmppServer(s => s.IdleAsync(10));
        await using var node = new XmppSignaling(server.Options(o => o.ConnectTimeout = TimeSpan.FromMilliseconds(300)));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(2));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => node.ConnectAsync(cts.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}");
        Assert.True(server.Connections >= 3, $"only {server.Connections} attempts in 2 s");
        Assert.False(node.IsConnected);
    }

    [Fact]
    public async Task A_server_closing_during_negotiation_is_retried()
    {
        await using var server = new FakeXmppServer(
            async s =>
            {
                await s.WaitForAsync("<stream:stream");
                await s.SendAsync("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mecha");
            },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        await using var node = new XmppSignaling(server.Options());
        await node.ConnectAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(node.IsConnected);

        // At least one retry; on a loaded machine a slow second negotiation may time out and take a third.
        Assert.InRange(server.Connections, 2, 3);
    }

    [Theory]
    [InlineData("not-authorized", false)]
    [InlineData("account-disabled", false)]
    [InlineData("temporary-auth-failure", true)]
    public async Task Bad_credentials_fail_at_once_and_only_a_temporary_auth_failure_is_retried(string condition, bool retried)
    {
        await using var server = new FakeXmppServer(
            async s =>
            {
                await s.WaitForAsync("<stream:stream");
                await s.SendAsync("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='f' from='lab.test' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>");
                await s.WaitForAsync("</auth>");
                await s.SendAsync($"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><{condition}/></failure>");
                await s.IdleAsync(5);
            },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        await using var node = new XmppSignaling(server.Options());
        if (retried)
        {
            await node.ConnectAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Equal(2, server.Connections);
            return;
        }

        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Authentication, ex.Kind);
        Assert.Contains(condition, ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, server.Connections);
    }

    [Theory]
    [InlineData("host-unknown", false)]
    [InlineData("not-authorized", false)]
    [InlineData("system-shutdown", true)]
    [InlineData("resource-constraint", true)]
    public async Task A_stream_error_during_login_is_retried_only_if_it_may_pass(string condition, bool retried)
    {
        await using var server = new FakeXmppServer(
            async s =>
            {
                await s.WaitForAsync("<stream:stream");
                await s.SendAsync($"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:error><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
            },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        await using var node = new XmppSignaling(server.Options());
        if (retried)
        {
            await node.ConnectAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Equal(2, server.Connections);
        }
        else
        {
            XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
            Assert.Equal(XmppErrorKind.Protocol, ex.Kind);
            Assert.Contains(condition, ex.Message, StringComparison.Ordinal);
            Assert.Equal(1, server.Connections);
        }
    }

    [Fact]
    public async Task Server_that_does_not_know_the_password_is_caught_by_the_scram_server_signature()
    {
        await using var server = new FakeXmppServer(s => s.NegotiateAsync(forgeServerSignature: true));
        await using var node = new XmppSignaling(server.Options());
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Authentication, ex.Kind);
        Assert.Contains("server signature", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_without_starttls_is_refused_when_tls_is_required()
    {
        await using var server = new FakeXmppServer(s => s.NegotiateAsync());
        await using var node = new XmppSignaling(server.Options(o => o.RequireTls = true));
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Tls, ex.Kind);
        Assert.Contains("STARTTLS", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_is_never_used_without_tls_even_if_offered()
    {
        await using var server = new FakeXmppServer(async s =>
        {
            await s.WaitForAsync("<stream:stream");
            await s.SendAsync("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
            await s.IdleAsync(5);
        });
        await using var node = new XmppSignaling(server.Options());
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Authentication, ex.Kind);
        Assert.Contains("No acceptable SASL mechanism", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pencil", string.Concat(server.Transcripts), StringComparison.Ordinal);
    }
}

/// <summary>Keepalive and backoff run on the injected clock.</summary>
public sealed class XmppKeepaliveClockTests
{
    [Fact]
    public async Task Keepalive_and_reconnect_delay_follow_the_injected_clock()
    {
        var pinged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(
            async s =>
            {
                await s.NegotiateAsync();
                await s.WaitForAsync("urn:xmpp:ping", 20);
                pinged.TrySetResult();
                await s.IdleAsync(20);
            },
            async s => { await s.NegotiateAsync(); await s.ServeAsync(); });
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = new XmppSignaling(server.Options(o =>
        {
            o.KeepaliveInterval = TimeSpan.FromSeconds(30);
            o.ReconnectMinDelay = TimeSpan.FromSeconds(10);
            o.ReconnectMaxDelay = TimeSpan.FromSeconds(10);
        }), timeProvider: time);
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);

        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.False(pinged.Task.IsCompleted, "no ping before the interval elapsed on the injected clock");
        time.Advance(TimeSpan.FromSeconds(30));
        await pinged.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.True(node.IsConnected);

        time.Advance(TimeSpan.FromSeconds(30));
        await SignalingProbe.WaitUntilAsync(() => !node.IsConnected, "the unanswered ping drops the session");
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(1, server.Connections);

        time.Advance(TimeSpan.FromSeconds(10));
        await SignalingProbe.WaitUntilAsync(() => node.IsConnected && server.Connections == 2, "the client reconnects once the backoff elapsed");
    }
}
