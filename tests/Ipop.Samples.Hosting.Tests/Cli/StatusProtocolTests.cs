using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using Ipop.Samples.Hosting.Cli;
using Ipop.Lab;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Samples.Hosting.Tests.Cli;

/// <summary>
/// The status socket's bad input, both ways: a CLI pointed at the wrong thing gets one line naming it, and a node
/// sent garbage answers with one error line and keeps serving.
/// </summary>
public sealed class StatusProtocolTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-cli-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_missing_socket_is_named()
    {
        string path = Path.Combine(_dir, "none.sock");
        var e = await Assert.ThrowsAsync<StatusClientException>(() => StatusClient.ConnectAsync(path, Ct));
        Assert.Equal($"no status socket at {path} (is the node running? see Status:SocketPath)", e.Message);
    }

    [Fact]
    public async Task A_file_that_is_not_a_socket_is_named()
    {
        string path = Path.Combine(_dir, "plain");
        await File.WriteAllTextAsync(path, "x", Ct);
        var e = await Assert.ThrowsAsync<StatusClientException>(() => StatusClient.ConnectAsync(path, Ct));
        Assert.Equal($"nothing listens on {path} (the node is not running, or this is not a socket)", e.Message);
    }

    [Fact]
    public async Task A_listener_that_answers_garbage_does_not_speak_the_protocol()
    {
        string path = Path.Combine(_dir, "garbage.sock");
        using Socket listener = Listen(path);
        Task server = Task.Run(async () =>
        {
            using Socket c = await listener.AcceptAsync(Ct);
            await c.ReceiveAsync(new byte[256], SocketFlags.None, Ct);
            await c.SendAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray(), SocketFlags.None, Ct);
        }, Ct);
        await using StatusClient client = await StatusClient.ConnectAsync(path, Ct);
        var e = await Assert.ThrowsAsync<StatusClientException>(() => client.SendAsync(new CliRequest("peers"), Wait, Ct));
        Assert.Equal($"{path} does not speak the Ipop status protocol (ipop-status/1); it answered 'HTTP/1.1 400 Bad Request'", e.Message);
        await server;
    }

    [Fact]
    public async Task A_listener_that_answers_other_json_does_not_speak_the_protocol()
    {
        string path = Path.Combine(_dir, "json.sock");
        using Socket listener = Listen(path);
        Task server = Task.Run(async () =>
        {
            using Socket c = await listener.AcceptAsync(Ct);
            await c.ReceiveAsync(new byte[256], SocketFlags.None, Ct);
            await c.SendAsync("{\"jsonrpc\":\"2.0\"}\n"u8.ToArray(), SocketFlags.None, Ct);
        }, Ct);
        await using StatusClient client = await StatusClient.ConnectAsync(path, Ct);
        var e = await Assert.ThrowsAsync<StatusClientException>(() => client.SendAsync(new CliRequest("peers"), Wait, Ct));
        Assert.Contains("does not speak the Ipop status protocol", e.Message, StringComparison.Ordinal);
        await server;
    }

    [Fact]
    public async Task A_listener_that_closes_or_stays_silent_is_named()
    {
        string closes = Path.Combine(_dir, "closes.sock");
        using Socket closing = Listen(closes);
        Task server = Task.Run(async () =>
        {
            using Socket c = await closing.AcceptAsync(Ct);
            await c.ReceiveAsync(new byte[256], SocketFlags.None, Ct);
        }, Ct);
        await using (StatusClient client = await StatusClient.ConnectAsync(closes, Ct))
        {
            var e = await Assert.ThrowsAsync<StatusClientException>(() => client.SendAsync(new CliRequest("status"), Wait, Ct));
            Assert.Contains("closed the connection", e.Message, StringComparison.Ordinal);
        }

        await server;
        string silent = Path.Combine(_dir, "silent.sock");
        using Socket quiet = Listen(silent);
        await using StatusClient waiting = await StatusClient.ConnectAsync(silent, Ct);
        var timeout = await Assert.ThrowsAsync<StatusClientException>(() => waiting.SendAsync(new CliRequest("status"), TimeSpan.FromMilliseconds(300), Ct));
        Assert.Equal($"{silent} did not answer within 0.3 s (not an Ipop node, or the node is stuck)", timeout.Message);
    }

    [Fact]
    public async Task The_node_answers_a_bad_line_with_one_error_and_keeps_serving()
    {
        string path = Path.Combine(_dir, "node.sock");
        using var server = new StatusSocketServer(path, CliFixtures.Status, NullLogger<StatusSocketServer>.Instance);
        await server.StartAsync(Ct);
        await WaitForAsync(path);

        Assert.Equal(
            "{\"protocol\":\"ipop-status/1\",\"error\":\"bad request: expected a JSON line such as {\\u0022command\\u0022:\\u0022peers\\u0022}, got \\u0027hello\\u0027\"}",
            await RawAsync(path, "hello\n"));
        Assert.Contains("a line longer than 4096 bytes", await RawAsync(path, new string('x', 5000)), StringComparison.Ordinal);

        await using StatusClient client = await StatusClient.ConnectAsync(path, Ct);
        var unknown = await Assert.ThrowsAsync<StatusClientException>(() => client.SendAsync(new CliRequest("reboot"), Wait, Ct));
        Assert.Equal("unknown command 'reboot' (known: status, peers, ping, why, netcheck)", unknown.Message);
        var noPeer = await Assert.ThrowsAsync<StatusClientException>(() => client.SendAsync(new CliRequest("ping", "zed"), Wait, Ct));
        Assert.Equal("no peer 'zed': this node has no links", noPeer.Message);
        var noName = await Assert.ThrowsAsync<StatusClientException>(() => client.SendAsync(new CliRequest("why"), Wait, Ct));
        Assert.Equal("why needs a peer", noName.Message);

        // Still serving, on the same connection.
        CliResponse status = await client.SendAsync(new CliRequest("status"), Wait, Ct);
        Assert.Equal("node-a", status.Status!.Node);
        Assert.Equal(["bob", "carol", "dave"], status.Status.Peers.Select(p => p.Peer));
        await server.StopAsync(Ct);
    }

    [Fact]
    public async Task Command_line_mistakes_exit_2_and_runtime_failures_exit_1_with_one_line()
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var root = new RootCommand("test");
        foreach (Command c in CliCommands.Create("ipop-test", Ct, output, errors))
        {
            root.Add(c);
        }

        Assert.Equal(2, await CliCommands.InvokeAsync(root, ["ping"], "ipop-test"));
        Assert.Equal(2, await CliCommands.InvokeAsync(root, ["ping", "bob", "--count", "0"], "ipop-test"));
        Assert.Equal(2, await CliCommands.InvokeAsync(root, ["peers", "--config", Path.Combine(_dir, "missing.json")], "ipop-test"));
        Assert.Equal(2, await CliCommands.InvokeAsync(root, ["frobnicate"], "ipop-test"));

        string socket = Path.Combine(_dir, "absent.sock");
        Assert.Equal(1, await CliCommands.InvokeAsync(root, ["peers", "--socket", socket], "ipop-test"));
        Assert.Equal($"ipop-test: no status socket at {socket} (is the node running? see Status:SocketPath)\n", errors.ToString().ReplaceLineEndings("\n"));
        Assert.Empty(output.ToString());
    }

    [Fact]
    public async Task Status_json_is_the_report_itself()
    {
        string path = Path.Combine(_dir, "json-node.sock");
        using var server = new StatusSocketServer(path, CliFixtures.Status, NullLogger<StatusSocketServer>.Instance);
        await server.StartAsync(Ct);
        await WaitForAsync(path);
        var output = new StringWriter();
        var root = new RootCommand("test");
        foreach (Command c in CliCommands.Create("ipop-test", Ct, output, new StringWriter()))
        {
            root.Add(c);
        }

        Assert.Equal(0, await CliCommands.InvokeAsync(root, ["status", "--json", "--socket", path], "ipop-test"));
        Snapshot.Verify(output.ToString());
        await server.StopAsync(Ct);
    }

    private static Socket Listen(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(path));
        s.Listen(1);
        return s;
    }

    private static async Task<string> RawAsync(string path, string send)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(path), Ct);
        await s.SendAsync(Encoding.UTF8.GetBytes(send), SocketFlags.None, Ct);
        var received = new MemoryStream();
        byte[] buffer = new byte[4096];
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(Wait);
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, bound.Token)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        // The server closes after an error line: the read above ends.
        return Encoding.UTF8.GetString(received.ToArray()).TrimEnd('\n');
    }

    private static async Task WaitForAsync(string path)
    {
        for (int i = 0; i < 100 && !File.Exists(path); i++)
        {
            await Task.Delay(50, Ct);
        }

        Assert.True(File.Exists(path), $"the server did not create {path}");
    }
}
