/**
 * The `duiad` command: builds the commander program and maps errors to exit codes. `run`
 * never exits the process, so tests can call it and read what it wrote.
 */
import { Command, CommanderError, Option } from 'commander';

import { datasetNames, parseDatasetName } from '../data/datasets.js';
import { defaultInputSpec, defaultMaxPixels, resizeModes } from '../data/folder.js';
import { DuiadError, exitCodeFor, exitCodes } from '../errors.js';
import { resnetPresets, type ResNetPreset } from '../models/resnet.js';
import { methods, parseMethods } from '../methods/registry.js';
import { benchCommand } from './bench.js';
import { evalCommand } from './eval.js';
import type { CliIO } from './io.js';
import { parseChoice, parseChoiceNumber, parseInteger, parseNumber } from './parse.js';
import { reportCommand } from './report.js';
import { anomalyExitCode, scoreCommand } from './score.js';
import { serveCommand, serveDefaults } from './serve.js';
import { trainCommand } from './train.js';

const exitHelp = `
Exit codes:
  0  success (duiad score: no image was called anomalous)
  1  unexpected internal error
  2  bad usage (unknown flag, bad value)
  3  a file or folder does not exist or cannot be read or written
  4  a file (data or model) is corrupt, or data has the wrong shape or values
  5  a model file is readable but not a usable duiad model
  6  the native engine failed to load or run
  10 duiad score: at least one image was called anomalous`;

function addThreads(cmd: Command): Command {
  return cmd.option(
    '--threads <n>',
    'libtorch threads (default: all cores)',
    parseInteger('--threads', 1, 1024),
  );
}

function trainCommandSpec(io: CliIO, done: (code: number) => void): Command {
  const cmd = new Command('train')
    .description(
      'train DUIAD on a folder of normal images (--data DIR) or on the normal class of a dataset ' +
        '(--dataset NAME --normal-class K); write the model file',
    )
    .addOption(
      new Option('--dataset <name>', `dataset (${datasetNames.join(', ')})`).argParser(
        parseDatasetName,
      ),
    )
    .option(
      '--data <path>',
      'without --dataset: a folder of PNG, JPEG or WebP images, all normal; ' +
        'with --dataset: the dataset folder or archive (default: the standard location)',
    )
    .option(
      '--normal-class <k>',
      'with --dataset: class used as normal',
      parseInteger('--normal-class', 0, 99),
    )
    .option(
      '--out <path>',
      'output: a path ending .safetensors is the model file, anything else a folder that gets model.safetensors',
      'runs/model',
    )
    .option(
      '--size <n>',
      `image folders: input size in pixels, square (default ${defaultInputSpec.height})`,
      parseInteger('--size', 4, 4096),
    )
    .option(
      '--channels <n>',
      'image folders: 1 (greyscale) or 3 (RGB) (default 3)',
      parseChoiceNumber('--channels', [1, 3] as const),
    )
    .option(
      '--resize <mode>',
      'image folders: fill (stretch, default), cover (centre crop), contain (pad with black)',
      parseChoice('--resize', resizeModes),
    )
    .option(
      '--max-pixels <n>',
      `image folders: refuse images with more pixels, from their header (default ${defaultMaxPixels})`,
      parseInteger('--max-pixels', 1, Number.MAX_SAFE_INTEGER),
    )
    .option('--recursive', 'image folders: also read subfolders (default: only the folder itself)')
    .option(
      '--calibration-share <x>',
      'share of the normal images held out to calibrate the threshold (default 0.1 with --data; ' +
        'with --dataset none unless given)',
      parseNumber('--calibration-share', 0.001, 0.9),
    )
    .option(
      '--fpr <x>',
      'target false-positive rate of the threshold (default 0.05)',
      parseNumber('--fpr', 0.0001, 0.5),
    )
    .option('--epochs <n>', 'training epochs (default 8)', parseInteger('--epochs', 1, 100_000))
    .option(
      '--batch-size <n>',
      'images per step (default 256)',
      parseInteger('--batch-size', 2, 65_536),
    )
    .option('--lr <x>', 'peak SGD learning rate (default 0.1)', parseNumber('--lr', 0, 100))
    .option(
      '--beta <x>',
      'weight of the entropy term (default 5)',
      parseNumber('--beta', 0, 10_000),
    )
    .option(
      '--mi <name>',
      'mutual-information term: infonce, rotation, both (default both)',
      parseChoice('--mi', ['infonce', 'rotation', 'both'] as const),
    )
    .option(
      '--rotation-weight <x>',
      'weight of the rotation term under --mi both (default 1)',
      parseNumber('--rotation-weight', 0, 10_000),
    )
    .option(
      '--entropy <name>',
      'entropy estimator: vmf, center, gaussian',
      parseChoice('--entropy', ['vmf', 'center', 'gaussian'] as const),
    )
    .option(
      '--entropy-on <where>',
      'entropy measured on: encoder, projection',
      parseChoice('--entropy-on', ['encoder', 'projection'] as const),
    )
    .option(
      '--score <kind>',
      'anomaly score: knn (default), rotation (the rotation classifier), combined (both, ' +
        'standardised on the training images); rotation and combined need --mi rotation or both',
      parseChoice('--score', ['knn', 'rotation', 'combined'] as const),
    )
    .option(
      '--temperature <x>',
      'InfoNCE temperature (default 0.2)',
      parseNumber('--temperature', 0.001, 100),
    )
    .option(
      '--encoder <preset>',
      `encoder (${Object.keys(resnetPresets).join(', ')})`,
      parseChoice('--encoder', Object.keys(resnetPresets) as ResNetPreset[]),
    )
    .option('--k <n>', 'neighbours in the kNN score (default 5)', parseInteger('--k', 1, 10_000))
    .option('--seed <n>', 'random seed (default 0)', parseInteger('--seed', 0, 2 ** 53 - 1))
    .option('--json', 'print a JSON summary on stdout');
  return addThreads(cmd).action(async (flags) => done(await trainCommand(flags, io)));
}

function evalCommandSpec(io: CliIO, done: (code: number) => void): Command {
  const cmd = new Command('eval')
    .description('score a trained model on the full test set of its dataset and print AUROC')
    .requiredOption('--model <path>', 'model folder (from duiad train --out) or model.safetensors')
    .option('--data <path>', 'dataset location, if it moved since training')
    .option('--json', 'print one JSON object on stdout');
  return addThreads(cmd).action(async (flags) => done(await evalCommand(flags, io)));
}

function scoreCommandSpec(io: CliIO, done: (code: number) => void): Command {
  const cmd = new Command('score')
    .description(
      'score image files and folders with a model from duiad train --data; one line per image ' +
        '(JSON: path, score, pValue, isAnomaly, threshold; or code and error). Exit 0 if no ' +
        `image is anomalous, ${anomalyExitCode} if any is`,
    )
    .argument('<paths...>', 'PNG, JPEG or WebP files, or folders of them')
    .requiredOption('--model <path>', 'model file (or the folder holding model.safetensors)')
    .option('--csv', 'CSV with a header row instead of JSON lines')
    .option('--maps <dir>', 'write an occlusion anomaly map (PNG overlay) per scored image here')
    .option('--recursive', 'also read the subfolders of folders given')
    .option(
      '--max-pixels <n>',
      `refuse images with more pixels, from their header (default ${defaultMaxPixels})`,
      parseInteger('--max-pixels', 1, Number.MAX_SAFE_INTEGER),
    );
  return addThreads(cmd).action(async (paths: string[], flags) =>
    done(await scoreCommand({ ...flags, paths }, io)),
  );
}

function benchCommandSpec(io: CliIO, done: (code: number) => void): Command {
  const cmd = new Command('bench')
    .description('one-class benchmark: every class as normal, methods side by side, resumable')
    .addOption(
      new Option('--dataset <name>', `dataset (${datasetNames.join(', ')})`)
        .argParser(parseDatasetName)
        .makeOptionMandatory(),
    )
    .option('--data <path>', 'dataset folder or archive (default: the standard location)')
    .option(
      '--methods <list>',
      `comma-separated (${Object.keys(methods).join(', ')})`,
      parseMethods,
      ['duiad'],
    )
    .option('--classes <list>', "'all' or comma-separated class indices", 'all')
    .option('--seeds <n>', 'seeds per split', parseInteger('--seeds', 1, 100), 1)
    .option(
      '--profile <name>',
      'cpu (this machine) or paper (ResNet-18, long; for a GPU)',
      parseChoice('--profile', ['cpu', 'paper'] as const),
      'cpu',
    )
    .option(
      '--epochs <n>',
      "training epochs of the DUIAD-family methods (default: the profile's)",
      parseInteger('--epochs', 1, 10_000),
    )
    .option('--out <dir>', 'results folder', 'runs/bench');
  return addThreads(cmd).action(async (flags) => done(await benchCommand(flags, io)));
}

const scorerModuleHelp = `
The model is loaded through the scorer module (the compiled detect module); tests point
DUIAD_SCORER_MODULE at a fake one.`;

function serveCommandSpec(io: CliIO, done: (code: number) => void): Command {
  return new Command('serve')
    .description('HTTP API that scores images with a model, until SIGINT or SIGTERM')
    .requiredOption('--model <path>', 'model folder or model.safetensors')
    .option('--host <address>', 'address to listen on', serveDefaults.host)
    .option(
      '--port <n>',
      'TCP port (0: any free one)',
      parseInteger('--port', 0, 65_535),
      serveDefaults.port,
    )
    .option(
      '--workers <n>',
      'scoring threads, each with its own copy of the model',
      parseInteger('--workers', 1, 64),
      serveDefaults.workers,
    )
    .option(
      '--threads <n>',
      'engine threads per worker',
      parseInteger('--threads', 1, 256),
      serveDefaults.threads,
    )
    .option(
      '--max-body-mb <x>',
      'largest request body in MiB (one image, or a whole batch)',
      parseNumber('--max-body-mb', 0.001, 1024),
      serveDefaults.maxBodyMb,
    )
    .option(
      '--queue <n>',
      'requests that may wait for a worker before the server answers 503',
      parseInteger('--queue', 1, 100_000),
      serveDefaults.queue,
    )
    .option('--json', 'print {url, info} as one JSON line on stdout once listening')
    .addHelpText('after', scorerModuleHelp)
    .action(async (flags) => done(await serveCommand(flags, io)));
}

function reportCommandSpec(io: CliIO, done: (code: number) => void): Command {
  return new Command('report')
    .description('score folders of images and write one self-contained HTML report')
    .argument('[paths...]', 'unlabelled image files or folders')
    .requiredOption('--model <path>', 'model folder or model.safetensors')
    .option('--normal <dir>', 'folder of images known to be normal')
    .option('--anomalous <dir>', 'folder of images known to be anomalous')
    .option('--out <file>', 'the HTML file to write', 'report.html')
    .option(
      '--top <n>',
      'rows in the most and least anomalous tables',
      parseInteger('--top', 1, 1000),
      8,
    )
    .option('--json', 'print a JSON summary on stdout')
    .addHelpText('after', scorerModuleHelp)
    .action(async (paths: string[], flags) => done(await reportCommand(flags, paths, io)));
}

/** Runs the CLI on `argv` (without the node and script entries); resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  let code = 0;
  const done = (c: number) => {
    code = c;
  };
  const program = new Command('duiad')
    .description('Deep unsupervised image anomaly detection (DUIAD)')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', exitHelp)
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (s, write) => write(s),
    })
    .exitOverride();
  for (const sub of [
    trainCommandSpec(io, done),
    evalCommandSpec(io, done),
    scoreCommandSpec(io, done),
    benchCommandSpec(io, done),
    serveCommandSpec(io, done),
    reportCommandSpec(io, done),
  ]) {
    program.addCommand(
      sub
        .exitOverride()
        .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
        .showHelpAfterError('(run with --help for usage)'),
    );
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIO): number {
  if (error instanceof CommanderError) {
    // Help and version succeed. commander derives help's exit code from process.exitCode,
    // which belongs to the host process, so decide by the error's code instead.
    const shown = ['commander.help', 'commander.helpDisplayed', 'commander.version'];
    if (error.exitCode === 0 || shown.includes(error.code)) return 0;
    return exitCodes.E_USAGE;
  }
  if (error instanceof DuiadError) {
    io.stderr(`error: ${error.message}\n`);
    return exitCodeFor(error);
  }
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  io.stderr(`error: internal error: ${message}\n`);
  return 1;
}
