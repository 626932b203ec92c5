using Microsoft.Extensions.Options;

namespace Ipop.Hosting.Internal;

/// <summary>How the hosted service reports a failure: one line, and an exit code (2 configuration, 3 anything else).</summary>
internal static class StartFailure
{
    // Ipop.Tincan references this package (for its builder method), so its exception type is known here by name only.
    private const string KeyFileException = "Ipop.Tincan.NodeKeyFileException";

    /// <summary>2 when every failure is in the configuration or the key file (the user must change them), 3 otherwise.</summary>
    public static int ExitCode(Exception exception) =>
        Flatten(exception).All(static e => e is OptionsValidationException || e.GetType().FullName == KeyFileException) ? 2 : 3;

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
