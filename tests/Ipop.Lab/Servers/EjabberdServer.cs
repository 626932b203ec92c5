using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ipop.Lab.Servers;

/// <summary>
/// A private ejabberd (Debian's package) run as a child <c>erl</c> process from a temp directory: its
/// own ejabberd.yml, Mnesia spool, logs and self-signed certificate for the domain; STARTTLS required,
/// SCRAM-only password storage, roster, MUC (conference.&lt;domain&gt;) and ping. Accounts are made
/// through ejabberd's HTTP API (<c>register</c> command, allowed from loopback only) on a second port.
/// </summary>
/// <remarks>
/// The node starts without Erlang distribution (no <c>-sname</c>: it runs as <c>nonode@nohost</c>), so
/// it registers nothing with epmd, starts no epmd, needs no cookie, and cannot collide with a system
/// ejabberd or another test run: the only shared resources are the two free ports it is given. This is
/// also why <c>ejabberdctl</c> is not used: it needs a distributed node (and, as root, switches to the
/// <c>ejabberd</c> user, which cannot read our temp directory). Dispose kills the process tree
/// (beam.smp and its port programs) and deletes the directory.
/// </remarks>
public sealed class EjabberdServer : IAsyncDisposable
{
    private readonly EjabberdServerOptions _options;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(15) };
    private Process? _process;
    private int _disposed;

    private EjabberdServer(EjabberdServerOptions options, string directory, int port, int apiPort)
    {
        _options = options;
        Directory = directory;
        Port = port;
        ApiPort = apiPort;
        ConfigPath = Path.Combine(directory, "ejabberd.yml");
        CertificatePath = Path.Combine(directory, "certs", options.Domain + ".crt");
        KeyPath = Path.Combine(directory, "certs", options.Domain + ".key");
        SpoolPath = Path.Combine(directory, "spool");
        LogPath = Path.Combine(directory, "logs", "ejabberd.log");
    }

    /// <summary>The XMPP domain.</summary>
    public string Domain => _options.Domain;

    /// <summary>The MUC service domain.</summary>
    public string MucDomain => "conference." + _options.Domain;

    /// <summary>The address ejabberd listens on.</summary>
    public string Address => _options.ListenAddress;

    /// <summary>The c2s port.</summary>
    public int Port { get; }

    /// <summary>The HTTP API port (loopback only; used to register accounts).</summary>
    public int ApiPort { get; }

    /// <summary>The temp directory with config, spool, certificates and logs.</summary>
    public string Directory { get; }

    /// <summary>The ejabberd.yml written for this run.</summary>
    public string ConfigPath { get; }

    /// <summary>The server's self-signed certificate (PEM); clients trust it as their CA file.</summary>
    public string CertificatePath { get; }

    /// <summary>The server's private key (PEM).</summary>
    public string KeyPath { get; }

    /// <summary>Mnesia's directory.</summary>
    public string SpoolPath { get; }

    /// <summary>ejabberd's log file.</summary>
    public string LogPath { get; }

    /// <summary>SHA-256 of the certificate (hex), for pinning.</summary>
    public string CertificateSha256 { get; private set; } = string.Empty;

    /// <summary>True while the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The Debian ejabberd's library directory for <c>ERL_LIBS</c>, as <c>ejabberdctl</c> sets it; null if ejabberd is in Erlang's own lib dir.</summary>
    public static string? FindErlangLibs()
    {
        foreach (string root in new[] { "/usr/lib", "/usr/local/lib" }.Where(System.IO.Directory.Exists))
        {
            foreach (string dir in System.IO.Directory.EnumerateDirectories(root))
            {
                if (System.IO.Directory.EnumerateDirectories(dir, "ejabberd-*").Any(d => File.Exists(Path.Combine(d, "ebin", "ejabberd.app"))))
                {
                    return dir;
                }
            }
        }

        return null;
    }

    /// <summary>Creates the directory, certificate and config, starts ejabberd and waits until it accepts.</summary>
    public static async Task<EjabberdServer> StartAsync(EjabberdServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new EjabberdServerOptions();
        string directory = Path.Combine(Path.GetTempPath(), $"ipop-ejabberd-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        (int port, int apiPort) = FreePorts(options.ListenAddress);
        var server = new EjabberdServer(options, directory, port, apiPort);
        try
        {
            server.WriteFiles();
            await server.LaunchAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Registers an account through the HTTP API's <c>register</c> command.</summary>
    public async Task RegisterAsync(string user, string password, CancellationToken cancellationToken = default)
    {
        var uri = new Uri($"http://{Address}:{ApiPort.ToString(CultureInfo.InvariantCulture)}/api/register");
        // A buffered body (Content-Length): ejabberd_http does not read chunked request bodies.
        string json = JsonSerializer.Serialize(new Dictionary<string, string> { ["user"] = user, ["host"] = Domain, ["password"] = password });
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _http.PostAsync(uri, content, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"ejabberd register {user}@{Domain} failed ({(int)response.StatusCode}): {body}");
        }
    }

    /// <summary>stdout/stderr of the run (first 64 KiB) and the log file's tail, for failure messages.</summary>
    public string Output()
    {
        string log = File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;
        lock (_output)
        {
            return _output + (log.Length > 8192 ? log[^8192..] : log);
        }
    }

    /// <summary>Starts the node again after <see cref="StopAsync"/> (same config and spool: accounts, rosters and persistent rooms survive) and waits until it accepts.</summary>
    public Task StartAgainAsync(CancellationToken cancellationToken = default)
        => IsRunning ? Task.CompletedTask : LaunchAsync(cancellationToken);

    /// <summary>Freezes the node (SIGSTOP to beam): connections stay open but nothing answers, like a dead link.</summary>
    public Task PauseAsync() => SignalAsync(_process ?? throw new InvalidOperationException("ejabberd is not running."), "STOP");

    /// <summary>Resumes the node after <see cref="PauseAsync"/> (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync(_process ?? throw new InvalidOperationException("ejabberd is not running."), "CONT");

    /// <summary>
    /// Stops the node and waits for it to exit. By default SIGKILL to the whole process tree (a crash).
    /// <paramref name="graceful"/> sends SIGTERM first (Erlang runs init:stop: clients get a
    /// system-shutdown stream error and Mnesia closes its tables), then SIGKILL after 15 s. Restart
    /// tests need the graceful way: after SIGKILL Mnesia's disc_only tables (passwd, roster) lose
    /// writes of the last moments, such as accounts registered just before.
    /// </summary>
    public async Task StopAsync(bool graceful = false)
    {
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (graceful && !process.HasExited)
            {
                await SignalAsync(process, "TERM");
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try
                {
                    await process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    // Did not stop in time: killed below.
                }
            }

            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(cts.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
            process.Dispose();
        }
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        try
        {
            _process?.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync();
        _http.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a file still held open does not fail the test run.
        }
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("erl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };

        // What ejabberdctl's "foreground" runs, minus -sname (see remarks): the config and log paths
        // come from the environment, Mnesia's dir is an Erlang string term.
        foreach (string arg in new[] { "-noinput", "-mnesia", "dir", $"\"{SpoolPath}\"", "-s", "ejabberd" })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["EJABBERD_CONFIG_PATH"] = ConfigPath;
        info.Environment["EJABBERD_LOG_PATH"] = LogPath;
        info.Environment["ERL_CRASH_DUMP"] = Path.Combine(Directory, "logs", "erl_crash.dump");
        info.Environment["ERL_CRASH_DUMP_BYTES"] = "0";
        info.Environment["CONTRIB_MODULES_PATH"] = Path.Combine(Directory, "modules");
        info.Environment["HOME"] = Directory;
        if (FindErlangLibs() is { } libs)
        {
            info.Environment["ERL_LIBS"] = libs;
        }

        try
        {
            _process = Process.Start(info) ?? throw new InvalidOperationException("Could not start erl.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("Cannot run 'erl': install the ejabberd package (scripts/setup.sh does).", ex);
        }

        // A test host that exits without disposing us (Ctrl+C, an unhandled crash) must not leave the VM running.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        bool c2s = false;
        bool api = false;
        while (clock.Elapsed < _options.StartTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"ejabberd exited with {_process.ExitCode} during start: {Output()}");
            }

            c2s = c2s || await AcceptsAsync(Port, cancellationToken);
            api = api || await AcceptsAsync(ApiPort, cancellationToken);
            if (c2s && api)
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }

        await StopAsync();
        throw new TimeoutException($"ejabberd did not accept on {Address}:{Port} and :{ApiPort} within {_options.StartTimeout.TotalSeconds} s: {Output()}");
    }

    private static async Task SignalAsync(Process process, string signal)
    {
        // erl execs erlexec, which execs beam.smp: the process we started is the VM itself.
        var info = new ProcessStartInfo("kill") { RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-" + signal);
        info.ArgumentList.Add(process.Id.ToString(CultureInfo.InvariantCulture));
        using Process kill = Process.Start(info) ?? throw new InvalidOperationException("Could not run kill.");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        string error = await kill.StandardError.ReadToEndAsync(cts.Token);
        await kill.WaitForExitAsync(cts.Token);
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} failed: {error}");
        }
    }

    private void WriteFiles()
    {
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "certs"));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "logs"));
        System.IO.Directory.CreateDirectory(SpoolPath);
        CertificateSha256 = ServerCertificate.Write(CertificatePath, KeyPath, Domain, MucDomain);
        string config = $$"""
            # Generated by Ipop.Lab.Servers.EjabberdServer for one test run.
            hosts:
              - {{Domain}}
            loglevel: info
            log_rotate_count: 0
            hide_sensitive_log_data: true
            certfiles:
              - '{{CertificatePath}}'
              - '{{KeyPath}}'
            listen:
              - port: {{Port}}
                ip: {{Address}}
                module: ejabberd_c2s
                starttls_required: true
                protocol_options:
                  - no_sslv3
                  - no_tlsv1
                  - no_tlsv1_1
                max_stanza_size: 1048576
              - port: {{ApiPort}}
                ip: {{Address}}
                module: ejabberd_http
                request_handlers:
                  /api: mod_http_api
            s2s_access: none
            auth_method: internal
            auth_password_format: scram
            auth_scram_hash: {{_options.ScramHash}}
            api_permissions:
              "register from loopback":
                from: mod_http_api
                who:
                  ip: 127.0.0.0/8
                what:
                  - register
            modules:
              mod_disco: {}
              mod_ping: {}
              mod_roster: {}
              mod_muc:
                host: {{MucDomain}}
                access_create: all
                access_persistent: all
            """;
        File.WriteAllText(ConfigPath, config);
    }

    private async Task<bool> AcceptsAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Parse(Address), port, cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static (int, int) FreePorts(string address)
    {
        // Both listeners are held open together so the two ports differ.
        using var a = new TcpListener(IPAddress.Parse(address), 0);
        using var b = new TcpListener(IPAddress.Parse(address), 0);
        a.Start();
        b.Start();
        return (((IPEndPoint)a.LocalEndpoint).Port, ((IPEndPoint)b.LocalEndpoint).Port);
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }
}
