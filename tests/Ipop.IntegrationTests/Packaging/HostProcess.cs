using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Packaging;

/// <summary>
/// A host started in the test's own network namespace (for an abstract <c>NOTIFY_SOCKET</c>, which cannot cross
/// namespaces), with its output kept for failure messages. Killed by its PID when disposed.
/// </summary>
internal sealed class HostProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    public HostProcess(string file, IEnumerable<string> args, string notifySocket)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["NOTIFY_SOCKET"] = notifySocket;
        _process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output => string.Join('\n', _lines);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public void Terminate() => Cmd.TryRun(TimeSpan.FromSeconds(5), "kill", "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture));

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(5));
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
        }
    }
}
