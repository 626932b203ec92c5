using System.Diagnostics;
using System.Text;

namespace Ipop.Lab.Namespaces;

/// <summary>Runs short lab commands (ip, iptables, sysctl, ping) with a bound on time and a useful error.</summary>
public static class Cmd
{
    /// <summary>Runs a command and returns its standard output; throws with its stderr when it fails.</summary>
    public static string Run(string file, params string[] args) => Run(TimeSpan.FromSeconds(30), file, args);

    /// <summary>Runs a command with a time limit; throws with its stderr when it fails or times out.</summary>
    public static string Run(TimeSpan timeout, string file, params string[] args)
    {
        CommandResult r = TryRun(timeout, file, args);
        if (r.ExitCode != 0)
        {
            throw new LabCommandException($"'{file} {string.Join(' ', args)}' exited {r.ExitCode}: {r.StandardError.Trim()}{(r.TimedOut ? " (timed out)" : string.Empty)}");
        }

        return r.StandardOutput;
    }

    /// <summary>Runs a command and returns its exit code and output without throwing.</summary>
    public static CommandResult TryRun(TimeSpan timeout, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new LabCommandException($"Could not start {file}.");
        p.StandardInput.Close();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        bool exited = p.WaitForExit((int)timeout.TotalMilliseconds);
        if (!exited)
        {
            try
            {
                p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            p.WaitForExit(5000);
        }
        else
        {
            p.WaitForExit();
        }

        lock (stdout)
        {
            lock (stderr)
            {
                return new CommandResult(exited ? p.ExitCode : -1, stdout.ToString(), stderr.ToString(), !exited);
            }
        }
    }
}

/// <summary>The outcome of a lab command.</summary>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError, bool TimedOut);

/// <summary>A lab command failed.</summary>
public sealed class LabCommandException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LabCommandException(string message)
        : base(message)
    {
    }
}
