using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ipop.Lab.Servers;

/// <summary>
/// A real coturn <c>turnserver</c> as a child process in the foreground, for interop tests: UDP only, no
/// TLS/DTLS/CLI, its own temp directory (pid file, sqlite user db) so several instances can run side by
/// side. Either static long-term users or REST-style shared-secret credentials. Optionally runs inside a
/// network namespace (<c>ip netns exec</c>) on a given listen address for the namespace lab.
/// Dispose kills the process and deletes the temp files.
/// </summary>
public sealed class CoturnServer : IDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly StringBuilder _log = new();
    private readonly Lock _logLock = new();
    private bool _disposed;

    private CoturnServer(Process process, string directory, IPEndPoint endPoint, CoturnOptions options, int minRelayPort, int maxRelayPort)
    {
        _process = process;
        _directory = directory;
        EndPoint = endPoint;
        Options = options;
        MinRelayPort = minRelayPort;
        MaxRelayPort = maxRelayPort;
    }

    /// <summary>Where the server listens (UDP).</summary>
    public IPEndPoint EndPoint { get; }

    public CoturnOptions Options { get; }

    public int MinRelayPort { get; }

    public int MaxRelayPort { get; }

    public int ProcessId => _process.Id;

    /// <summary>The instance's temp directory (pid file, user db); deleted on dispose.</summary>
    public string WorkingDirectory => _directory;

    /// <summary>Everything the server printed so far (its log goes to stdout).</summary>
    public string Log
    {
        get
        {
            lock (_logLock)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts coturn and waits (bounded) until it answers a STUN Binding request.</summary>
    public static async Task<CoturnServer> StartAsync(CoturnOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CoturnOptions();
        IPAddress listen = options.ListenAddress;
        bool inNamespace = options.NetworkNamespace is not null;
        int port = options.Port ?? (inNamespace ? 3478 : FindFreeUdpPort(listen));
        (int minPort, int maxPort) = options.RelayPorts ?? (inNamespace ? (49152, 49251) : FindFreeUdpRange(listen, 20));
        string directory = Path.Combine(Path.GetTempPath(), $"ipop-coturn-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);

        var args = new List<string>();
        if (inNamespace)
        {
            args.AddRange(["netns", "exec", options.NetworkNamespace!, options.Executable]);
        }

        string ip = listen.ToString();
        args.AddRange([
            "-n",
            "-v", // prints "UDP listener opened on", the readiness signal inside a namespace
            "--listening-ip", ip,
            "--relay-ip", options.RelayAddress?.ToString() ?? ip,
            "--listening-port", port.ToString(CultureInfo.InvariantCulture),
            "--min-port", minPort.ToString(CultureInfo.InvariantCulture),
            "--max-port", maxPort.ToString(CultureInfo.InvariantCulture),
            "--realm", options.Realm,
            "--no-tls", "--no-dtls", "--no-tcp", "--no-cli",
            "--log-file", "stdout",
            "--simple-log",
            "--pidfile", Path.Combine(directory, "turnserver.pid"),
            "--userdb", Path.Combine(directory, "turndb"),
        ]);
        if (options.AllowLoopbackPeers)
        {
            args.Add("--allow-loopback-peers");
        }

        if (options.StaticAuthSecret is not null)
        {
            args.AddRange(["--use-auth-secret", "--static-auth-secret", options.StaticAuthSecret]);
        }
        else
        {
            args.Add("--lt-cred-mech");
            foreach ((string user, string password) in options.Users)
            {
                args.AddRange(["--user", $"{user}:{password}"]);
            }
        }

        if (options.MaxAllocateLifetime is { } max)
        {
            args.AddRange(["--max-allocate-lifetime", ((int)max.TotalSeconds).ToString(CultureInfo.InvariantCulture)]);
        }

        if (options.StaleNonce is { } staleNonce)
        {
            args.Add($"--stale-nonce={(int)staleNonce.TotalSeconds}");
        }

        args.AddRange(options.ExtraArguments);

        var startInfo = new ProcessStartInfo(inNamespace ? "ip" : options.Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (string arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new InvalidOperationException("turnserver did not start.");
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }

        var server = new CoturnServer(process, directory, new IPEndPoint(listen, port), options, minPort, maxPort);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilReadyAsync(inNamespace, cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            if (_log.Length < 1_000_000)
            {
                _log.AppendLine(line);
            }
        }
    }

    private async Task WaitUntilReadyAsync(bool inNamespace, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Options.StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"turnserver exited with code {_process.ExitCode} during startup:\n{Log}");
            }

            // Inside a namespace we cannot reach it from here: trust its own "listener opened" line.
            bool ready = inNamespace
                ? Log.Contains("UDP listener opened", StringComparison.Ordinal)
                : await AnswersBindingAsync(EndPoint, TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
            if (ready)
            {
                return;
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"turnserver did not become ready on {EndPoint} within {Options.StartTimeout.TotalSeconds} s:\n{Log}");
    }

    /// <summary>Sends one bare RFC 5389 Binding request and waits for any STUN answer with the same transaction id.</summary>
    private static async Task<bool> AnswersBindingAsync(IPEndPoint server, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(server.Address, 0));
        byte[] request = new byte[20];
        request[1] = 0x01;
        request[4] = 0x21;
        request[5] = 0x12;
        request[6] = 0xA4;
        request[7] = 0x42;
        Random.Shared.NextBytes(request.AsSpan(8, 12));
        await socket.SendToAsync(request, SocketFlags.None, server, cancellationToken).ConfigureAwait(false);
        byte[] buffer = new byte[1500];
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            SocketReceiveFromResult result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(server.Address, 0), timeoutSource.Token).ConfigureAwait(false);
            return result.ReceivedBytes >= 20 && buffer.AsSpan(8, 12).SequenceEqual(request.AsSpan(8, 12));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A UDP port on <paramref name="address"/> that is free right now (the kernel picks it).</summary>
    public static int FindFreeUdpPort(IPAddress address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>A run of <paramref name="count"/> consecutive free UDP ports (checked by binding each), for the relay range.</summary>
    public static (int Min, int Max) FindFreeUdpRange(IPAddress address, int count)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            int start = Random.Shared.Next(20000, 60000 - count);
            bool free = true;
            for (int p = start; p < start + count && free; p++)
            {
                try
                {
                    using var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                    socket.Bind(new IPEndPoint(address, p));
                }
                catch (SocketException)
                {
                    free = false;
                }
            }

            if (free)
            {
                return (start, start + count - 1);
            }
        }

        throw new InvalidOperationException($"No run of {count} free UDP ports on {address}.");
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a file still held open by a dying process.
            }
        }
    }
}
