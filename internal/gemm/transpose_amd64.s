//go:build !noasm

#include "textflag.h"

// func transpose8AVX(src *float32, lds int, dst *float32, ldd int, blocks int)
//
// For each of blocks consecutive 8×8 blocks along a row band of src (8 rows,
// stride lds floats), writes the block transposed into dst (row stride ldd
// floats), moving down 8 dst rows per block. This is the inner loop of
// packing a transposed operand: 8 source rows become 8-float groups of
// consecutive packed k steps.
TEXT ·transpose8AVX(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	SHLQ $2, AX
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), DX
	SHLQ $2, DX
	MOVQ blocks+32(FP), CX
	LEAQ (AX)(AX*2), BX    // 3*lds
	LEAQ (SI)(AX*4), R8    // row 4
	LEAQ (DX)(DX*2), R9    // 3*ldd
	TESTQ CX, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(AX*1), Y1
	VMOVUPS (SI)(AX*2), Y2
	VMOVUPS (SI)(BX*1), Y3
	VMOVUPS (R8), Y4
	VMOVUPS (R8)(AX*1), Y5
	VMOVUPS (R8)(AX*2), Y6
	VMOVUPS (R8)(BX*1), Y7

	VUNPCKLPS Y1, Y0, Y8   // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y9   // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0  // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS $0xEE, Y10, Y8, Y1  // a1 b1 c1 d1 | a5 ...
	VSHUFPS $0x44, Y11, Y9, Y2  // a2 ...
	VSHUFPS $0xEE, Y11, Y9, Y3  // a3 ...
	VSHUFPS $0x44, Y14, Y12, Y4 // e0 f0 g0 h0 | e4 ...
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8  // column 0
	VPERM2F128 $0x20, Y5, Y1, Y9  // column 1
	VPERM2F128 $0x20, Y6, Y2, Y10 // column 2
	VPERM2F128 $0x20, Y7, Y3, Y11 // column 3
	VPERM2F128 $0x31, Y4, Y0, Y12 // column 4
	VPERM2F128 $0x31, Y5, Y1, Y13 // column 5
	VPERM2F128 $0x31, Y6, Y2, Y14 // column 6
	VPERM2F128 $0x31, Y7, Y3, Y15 // column 7

	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(R9*1)
	LEAQ (DI)(DX*4), DI
	VMOVUPS Y12, (DI)
	VMOVUPS Y13, (DI)(DX*1)
	VMOVUPS Y14, (DI)(DX*2)
	VMOVUPS Y15, (DI)(R9*1)
	LEAQ (DI)(DX*4), DI

	ADDQ $32, SI
	ADDQ $32, R8
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
