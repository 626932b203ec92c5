using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Ipop.Lab.Servers;

/// <summary>
/// A private prosody (XMPP server) run in the foreground as a child process from a temp directory:
/// its own config, data, self-signed certificate for the domain, TLS required, SCRAM
/// (internal_hashed), a MUC component. Stop/Start simulate a server restart; Dispose kills it and
/// removes the directory. Several instances never collide (own dir, own port).
/// </summary>
public sealed class ProsodyServer : IAsyncDisposable
{
    private readonly ProsodyServerOptions _options;
    private readonly StringBuilder _output = new();
    private Process? _process;
    private int _disposed;

    private ProsodyServer(ProsodyServerOptions options, string directory, int port)
    {
        _options = options;
        Directory = directory;
        Port = port;
        ConfigPath = Path.Combine(directory, "prosody.cfg.lua");
        CertificatePath = Path.Combine(directory, "certs", options.Domain + ".crt");
        KeyPath = Path.Combine(directory, "certs", options.Domain + ".key");
        DataPath = Path.Combine(directory, "data");
    }

    /// <summary>The XMPP domain.</summary>
    public string Domain => _options.Domain;

    /// <summary>The MUC service domain.</summary>
    public string MucDomain => "conference." + _options.Domain;

    /// <summary>The address prosody listens on.</summary>
    public string Address => _options.ListenAddress;

    /// <summary>The c2s port.</summary>
    public int Port { get; }

    /// <summary>The temp directory with config, data, certificates and log.</summary>
    public string Directory { get; }

    /// <summary>The config file.</summary>
    public string ConfigPath { get; }

    /// <summary>The server's self-signed certificate (PEM); clients trust it as their CA file.</summary>
    public string CertificatePath { get; }

    /// <summary>The server's private key (PEM).</summary>
    public string KeyPath { get; }

    /// <summary>prosody's data_path.</summary>
    public string DataPath { get; }

    /// <summary>SHA-256 of the certificate (hex), for pinning.</summary>
    public string CertificateSha256 { get; private set; } = string.Empty;

    /// <summary>True while the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>prosody's log file.</summary>
    public string LogPath => Path.Combine(Directory, "prosody.log");

    /// <summary>Creates the directory, certificate and config, and starts prosody.</summary>
    public static async Task<ProsodyServer> StartAsync(ProsodyServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ProsodyServerOptions();
        string directory = Path.Combine(Path.GetTempPath(), $"ipop-prosody-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        int port = options.Port ?? FreePort(options);
        var server = new ProsodyServer(options, directory, port);
        try
        {
            server.WriteFiles();
            await server.StartAgainAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Registers an account (<c>prosodyctl register</c>).</summary>
    public async Task RegisterAsync(string user, string password, CancellationToken cancellationToken = default)
    {
        (int code, string output) = await RunAsync(["prosodyctl", "--config", ConfigPath, "register", user, Domain, password], TimeSpan.FromSeconds(30), cancellationToken);
        if (code != 0)
        {
            throw new InvalidOperationException($"prosodyctl register {user} failed ({code}): {output}");
        }
    }

    /// <summary>
    /// Writes a roster for <paramref name="user"/> straight into prosody's internal storage (only while
    /// stopped, or before the user's first login): fast setup of large rosters for load tests.
    /// </summary>
    public void WriteRoster(string user, IEnumerable<(string Jid, string Subscription)> contacts)
    {
        var lua = new StringBuilder("return {\n  [false] = { version = 1 };\n");
        foreach ((string jid, string subscription) in contacts)
        {
            lua.Append(CultureInfo.InvariantCulture, $"  [\"{jid}\"] = {{ subscription = \"{subscription}\"; groups = {{ [\"ipop\"] = true }} }};\n");
        }

        lua.Append("};\n");
        string dir = Path.Combine(DataPath, Encode(Domain), "roster");
        System.IO.Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, Encode(user) + ".dat"), lua.ToString());
    }

    /// <summary>
    /// Writes a persistent room that is open to every account (not members-only, no member list; real JIDs visible),
    /// as GroupVPN created them before groups were members-only, straight into prosody's MUC storage. prosody loads
    /// it on first use, so this works while running as long as the room has not been used yet.
    /// </summary>
    public void WriteOpenRoom(string room, string owner)
    {
        string node = room.Split('@')[0];
        string lua = $$"""
            return {
              jid = "{{node}}@{{MucDomain}}";
              _data = { persistent = true; whois = "anyone"; members_only = false; public = true };
              _affiliations = { ["{{owner}}"] = "owner" };
            };
            """;
        string dir = Path.Combine(DataPath, Encode(MucDomain), "config");
        System.IO.Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, Encode(node) + ".dat"), lua);
    }

    /// <summary>Starts (or restarts after <see cref="StopAsync"/>) prosody and waits until the port accepts connections.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            return;
        }

        string[] command = WithNamespace(["prosody", "-F", "--config", ConfigPath]);
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("Could not start prosody.");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < _options.StartTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"prosody exited with {_process.ExitCode} during start: {Output()}");
            }

            if (await AcceptsAsync(cancellationToken))
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }

        await StopAsync();
        throw new TimeoutException($"prosody did not accept on {Address}:{Port} within {_options.StartTimeout.TotalSeconds} s: {Output()}");
    }

    /// <summary>Kills prosody (SIGKILL: a crash, not a graceful shutdown) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                // SIGKILL works on a stopped process too; no SIGCONT needed first.
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
            process.Dispose();
        }

        File.Delete(Path.Combine(Directory, "prosody.pid"));
    }

    /// <summary>Freezes prosody (SIGSTOP): connections stay open but nothing answers, like a dead link.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>Resumes prosody after <see cref="PauseAsync"/> (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        Process process = _process ?? throw new InvalidOperationException("prosody is not running.");
        (int code, string output) = await RunAsync(["kill", "-" + signal, process.Id.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5), CancellationToken.None);
        if (code != 0)
        {
            throw new InvalidOperationException($"kill -{signal} failed: {output}");
        }
    }

    /// <summary>stdout/stderr of the current run (last 64 KiB) and the log file's tail, for failure messages.</summary>
    public string Output()
    {
        string log = File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;
        lock (_output)
        {
            return _output + (log.Length > 8192 ? log[^8192..] : log);
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
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a file still held open does not fail the test run.
        }
    }

    private void WriteFiles()
    {
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "certs"));
        System.IO.Directory.CreateDirectory(DataPath);
        CertificateSha256 = ServerCertificate.Write(CertificatePath, KeyPath, Domain, MucDomain);
        bool federated = _options.S2sRoutes.Count > 0;
        string routes = string.Concat(_options.S2sRoutes.Select(r => $"[\"{r.Key}\"] = \"{r.Value}\"; "));
        if (federated)
        {
            File.WriteAllText(Path.Combine(Directory, "mod_lab_s2s_routes.lua"), S2sRoutesModule);
        }

        string config = $$"""
            -- Generated by Ipop.Lab.Servers.ProsodyServer for one test run.
            run_as_root = true
            daemonize = false
            pidfile = "{{Directory}}/prosody.pid"
            data_path = "{{DataPath}}"
            certificates = "{{Directory}}/certs"
            interfaces = { "{{Address}}" }
            local_interfaces = { "{{Address}}" }
            c2s_ports = { {{Port}} }
            c2s_direct_tls_ports = { }
            s2s_ports = { {{(federated ? _options.S2sPort.ToString(CultureInfo.InvariantCulture) : string.Empty)}} }
            http_ports = { }
            https_ports = { }
            component_ports = { }
            modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"{{(federated ? "; \"dialback\"; \"lab_s2s_routes\"" : string.Empty)}} }
            modules_disabled = { {{(federated ? string.Empty : "\"s2s\"; ")}}"posix"; "offline" }
            plugin_paths = { "{{Directory}}" }
            lab_s2s_routes = { {{routes}} }
            lab_s2s_port = {{_options.S2sPort.ToString(CultureInfo.InvariantCulture)}}
            authentication = "internal_hashed"
            storage = "internal"
            c2s_require_encryption = true
            allow_registration = false
            log = { debug = "{{Directory}}/prosody.log"; error = "*stderr" }
            ssl = { key = "{{KeyPath}}"; certificate = "{{CertificatePath}}" }
            VirtualHost "{{Domain}}"
            Component "{{MucDomain}}" "muc"
                restrict_room_creation = false
                muc_room_default_public = true
            """;
        File.WriteAllText(ConfigPath, config);
    }

    // Static s2s routes: the lab has no DNS server, and prosody's built-in resolver (without lua-unbound) reads neither
    // /etc/hosts nor anything but DNS. Only the lookup is replaced: the connection, STARTTLS and dialback stay prosody's.
    // Direct TLS (xmpps-server) gets no target, so prosody goes on to STARTTLS on the s2s port.
    private const string S2sRoutesModule = """
        -- Generated by Ipop.Lab.Servers.ProsodyServer: static server-to-server routes for the lab (no DNS there).
        local service = require "net.resolvers.service";
        local manual = require "net.resolvers.manual";
        local routes = module:get_option("lab_s2s_routes", {});
        local port = module:get_option_number("lab_s2s_port", 5269);
        local original = service.lab_original or service.new;
        service.lab_original = original;
        service.new = function(hostname, srv_name, conn_type, extra)
            local address = routes[hostname];
            if address == nil then
                return original(hostname, srv_name, conn_type, extra);
            end
            module:log("debug", "lab route for %s (%s): %s", hostname, srv_name, address);
            if srv_name ~= "xmpp-server" then
                return manual.new({}, conn_type, extra);
            end
            return manual.new({ { (conn_type or "tcp") .. "4", address, port, extra } }, conn_type, extra);
        end
        """;

    private async Task<bool> AcceptsAsync(CancellationToken cancellationToken)
    {
        if (_options.NetworkNamespace is not null)
        {
            (int code, string output) = await RunAsync(WithNamespace(["ss", "-ltnH", $"sport = :{Port}"]), TimeSpan.FromSeconds(5), cancellationToken);
            return code == 0 && output.Contains(':' + Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        }

        using var client = new TcpClient();
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Parse(Address), Port, cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private string[] WithNamespace(string[] command)
        => _options.NetworkNamespace is null ? command : ["ip", "netns", "exec", _options.NetworkNamespace, .. command];

    private static async Task<(int Code, string Output)> RunAsync(string[] command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {command[0]}.");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', command)} did not finish within {timeout.TotalSeconds} s.");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static int FreePort(ProsodyServerOptions options)
    {
        if (options.NetworkNamespace is not null)
        {
            // Another namespace has its own port space: any unprivileged port is free there.
            return 20000 + RandomNumberGenerator.GetInt32(20000);
        }

        using var listener = new TcpListener(IPAddress.Parse(options.ListenAddress), 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    // prosody's datamanager encodes non-alphanumerics in path components as %xx.
    private static string Encode(string component)
    {
        var sb = new StringBuilder();
        foreach (char c in component)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            {
                sb.Append(c);
            }
            else
            {
                sb.Append(CultureInfo.InvariantCulture, $"%{(int)c:x2}");
            }
        }

        return sb.ToString();
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
