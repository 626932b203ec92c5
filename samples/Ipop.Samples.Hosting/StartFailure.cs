using Ipop.Tincan;
using Microsoft.Extensions.Options;

namespace Ipop.Samples.Hosting;

/// <summary>
/// How a sample host reports a failure to start: one line, and exit 2 when the user must change the config or the key
/// file, 3 when the machine or the network refused (no TUN, XMPP unreachable or refusing the login, a port in use).
/// </summary>
public static class StartFailure
{
    /// <summary>2 for configuration and key-file errors, 3 for everything else.</summary>
    public static int ExitCode(Exception exception) => Unwrap(exception) switch
    {
        OptionsValidationException or NodeKeyFileException => 2,
        _ => 3,
    };

    /// <summary>The message of <paramref name="exception"/> and of what caused it, on one line (no stack trace).</summary>
    public static string OneLine(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Exception e = Unwrap(exception);
        string text = e is OptionsValidationException v ? string.Join("; ", v.Failures) : e.Message;
        for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!text.Contains(inner.Message, StringComparison.Ordinal))
            {
                text += " (" + inner.Message + ")";
            }
        }

        return text.ReplaceLineEndings(" ");
    }

    private static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0]) : e;
}
