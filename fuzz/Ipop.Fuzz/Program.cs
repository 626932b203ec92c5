using Ipop.Fuzz;
using SharpFuzz;

// Ipop.Fuzz HARNESS                 run under afl-fuzz (persistent, in-process; scripts/fuzz.sh starts it)
// Ipop.Fuzz --replay HARNESS DIR    run every file of DIR in-process, without AFL (CI replays the corpus)
// Ipop.Fuzz --list                  the harness names
if (args is ["--list"])
{
    foreach (string name in HarnessCatalog.Names)
    {
        Console.WriteLine(name);
    }

    return 0;
}

if (args is ["--write-seeds", string seedDirectory])
{
    SeedWriter.Write(seedDirectory);
    return 0;
}

if (args is ["--replay", string replayName, string directory])
{
    IHarness harness = HarnessCatalog.TryCreate(replayName) ?? throw Unknown(replayName);
    int count = 0;
    foreach (string file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
    {
        try
        {
            harness.Run(File.ReadAllBytes(file));
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{replayName}: {file}: {e}");
            return 1;
        }

        count++;
    }

    Console.WriteLine($"{replayName}: {count} inputs replayed, no finding");
    return 0;
}

if (args is [string harnessName])
{
    if (!HarnessCatalog.Names.Contains(harnessName))
    {
        throw Unknown(harnessName);
    }

    // Instrumented code may run only inside Fuzzer.Run (its coverage map exists from there on), so the harness,
    // which calls into the instrumented assemblies when it is built, is created with the first input.
    IHarness? harness = null;

    // One buffer for every input: the stream SharpFuzz hands over is read into it, and the harness sees a span.
    byte[] buffer = new byte[1 << 20];
    Fuzzer.Run(stream =>
    {
        harness ??= HarnessCatalog.TryCreate(harnessName)!;
        int length = 0;
        int read;
        while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
        {
            length += read;
        }

        harness.Run(buffer.AsSpan(0, length));
    });
    return 0;
}

Console.Error.WriteLine("usage: Ipop.Fuzz HARNESS | --replay HARNESS DIR | --list");
Console.Error.WriteLine("harnesses: " + string.Join(", ", HarnessCatalog.Names));
return 2;

static ArgumentException Unknown(string name) =>
    new($"unknown harness '{name}'; known: {string.Join(", ", HarnessCatalog.Names)}");
