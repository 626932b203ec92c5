using Ipop.Tincan;
using Microsoft.Extensions.Options;

namespace Ipop.Samples.Hosting;

/// <summary>
/// How a host reports a failure to start: one line per problem and no stack trace; exit 2 when the user must change
/// the config or the key file, 3 when the machine or the network refused (no TUN, XMPP unreachable or refusing the
/// login, a port in use). Shared by <c>ipop-tincan</c> (linked source) and the sample hosts.
/// </summary>
internal static class StartFailure
{
    /// <summary>2 when every failure is in the config or the key file, 3 otherwise.</summary>
    public static int ExitCode(Exception exception) =>
        Flatten(exception).All(static e => e is OptionsValidationException or NodeKeyFileException) ? 2 : 3;

    /// <summary>
    /// One line per problem: each failure of an options validation prefixed with <paramref name="file"/> (they name
    /// keys of that file); a key-file problem as it is (it names the key file); anything else with its causes.
    /// </summary>
    public static IEnumerable<string> Lines(Exception exception, string file)
    {
        foreach (Exception e in Flatten(exception))
        {
            switch (e)
            {
                case OptionsValidationException v:
                    foreach (string failure in v.Failures)
                    {
                        yield return $"{file}: {failure}";
                    }

                    break;
                case NodeKeyFileException:
                    yield return e.Message;
                    break;
                default:
                    yield return "cannot start: " + OneLine(e);
                    break;
            }
        }
    }

    /// <summary>The message of <paramref name="exception"/> and of what caused it, on one line.</summary>
    public static string OneLine(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        string text = exception is OptionsValidationException v ? string.Join("; ", v.Failures) : exception.Message;
        for (Exception? inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!text.Contains(inner.Message, StringComparison.Ordinal))
            {
                text += " (" + inner.Message + ")";
            }
        }

        return text.ReplaceLineEndings(" ");
    }

    // The host validates every options type at start and throws them together when more than one fails.
    private static IEnumerable<Exception> Flatten(Exception e) =>
        e is AggregateException a ? a.InnerExceptions.SelectMany(Flatten) : [e];
}
