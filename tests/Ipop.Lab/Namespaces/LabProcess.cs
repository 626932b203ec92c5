using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ipop.Lab.Namespaces;

/// <summary>A long-running process in a lab namespace, with its output kept for assertions and failure reports.</summary>
public sealed partial class LabProcess : IDisposable
{
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    private LabProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    /// <summary>What was started, for messages.</summary>
    public string Description { get; }

    /// <summary>The process id (of the program itself: <c>ip netns exec</c> execs it).</summary>
    public int Id => _process.Id;

    /// <summary>True once the process ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Exit code once ended.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process printed so far (stdout and stderr interleaved).</summary>
    public string Output => string.Join('\n', _lines);

    internal static LabProcess Start(LabNamespace ns, string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["netns", "exec", ns.Name, file, .. args])
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (KeyValuePair<string, string> kv in environment)
            {
                psi.Environment[kv.Key] = kv.Value;
            }
        }

        Process p = Process.Start(psi) ?? throw new LabCommandException($"Could not start {file} in {ns}.");
        var lp = new LabProcess(p, $"{file} in {ns.Role}");
        p.OutputDataReceived += (_, e) => lp.Add(e.Data);
        p.ErrorDataReceived += (_, e) => lp.Add(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return lp;
    }

    /// <summary>Waits until a line containing <paramref name="text"/> was printed; false on timeout or exit.</summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                return true;
            }

            if (_process.HasExited)
            {
                // Output may still be draining right after exit.
                await Task.Delay(100, CancellationToken.None);
                return _lines.Any(l => l.Contains(text, StringComparison.Ordinal));
            }

            try
            {
                await _lineArrived.WaitAsync(TimeSpan.FromMilliseconds(200), cts.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    /// <summary>Sends SIGTERM (graceful shutdown) and waits up to <paramref name="timeout"/> for exit.</summary>
    public bool Terminate(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return true;
        }

        _ = Kill(_process.Id, SigTerm);
        return WaitForExit(timeout);
    }

    /// <summary>Waits for the process to exit by itself, and for its output to be read to the end.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
        {
            return false;
        }

        // The timed overload does not wait for redirected output to drain; this one does (it returns at once now).
        _process.WaitForExit();
        return true;
    }

    /// <summary>Stops the process: SIGTERM, then SIGKILL after 3 s.</summary>
    public void Dispose()
    {
        try
        {
            if (!Terminate(TimeSpan.FromSeconds(3)))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        _lineArrived.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Description}:\n{Output}";

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        if (_lines.Count > 20_000)
        {
            _lines.TryDequeue(out _);
        }

        _lineArrived.Release();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
