using System.Text;

namespace Ipop.Samples.Hosting.Cli;

/// <summary>
/// A plain-text table: upper-case headings, columns padded to their widest cell and two spaces apart, no colour and no
/// terminal width, so the output is the same in a pipe, a log and a snapshot test.
/// </summary>
internal sealed class TextTable(params string[] headings)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    public void WriteTo(TextWriter writer)
    {
        int[] widths = new int[headings.Length];
        foreach (string[] row in _rows.Prepend(headings))
        {
            for (int i = 0; i < widths.Length && i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (string[] row in _rows.Prepend(headings.Select(h => h.ToUpperInvariant()).ToArray()))
        {
            var line = new StringBuilder();
            for (int i = 0; i < widths.Length; i++)
            {
                string cell = i < row.Length ? row[i] : string.Empty;
                line.Append(i == widths.Length - 1 ? cell : cell.PadRight(widths[i] + 2));
            }

            writer.WriteLine(line.ToString().TrimEnd());
        }
    }
}
